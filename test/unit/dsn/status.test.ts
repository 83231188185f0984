import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dsnRecipientFromRow, statusFromReply } from '../../../src/dsn/status.js';
import type { RecipientRow } from '../../../src/queue/store/types.js';

test('an SMTP reply with an enhanced code gives that code and an smtp diagnostic', () => {
  assert.deepEqual(statusFromReply('550 5.1.1 no such user', 'failed'), {
    status: '5.1.1',
    diagnostic: 'smtp; 550 5.1.1 no such user',
  });
  assert.deepEqual(statusFromReply('452-4.2.2 mailbox full\r\n452 4.2.2 try later', 'delayed'), {
    status: '4.2.2',
    diagnostic: 'smtp; 452-4.2.2 mailbox full 452 4.2.2 try later',
  });
  assert.equal(statusFromReply('250 2.0.0 Ok: queued as 4F2', 'delivered').status, '2.0.0');
});

test('a reply without an enhanced code gives the class of its basic code', () => {
  assert.deepEqual(statusFromReply('550 no such user', 'failed'), {
    status: '5.0.0',
    diagnostic: 'smtp; 550 no such user',
  });
  assert.equal(statusFromReply('421 closing', 'delayed').status, '4.0.0');
  assert.equal(statusFromReply('554', 'failed').status, '5.0.0');
  // "5501" is no reply code; "550 5.1" is no enhanced code.
  assert.equal(statusFromReply('550 5.1 nope', 'failed').status, '5.0.0');
});

test('when the basic and the enhanced code disagree on the class, the basic code wins', () => {
  assert.equal(statusFromReply('450 5.2.2 mailbox full', 'delayed').status, '4.2.2');
});

test('a local error that is no SMTP reply: the class of the action and an X-Outpost diagnostic', () => {
  assert.deepEqual(statusFromReply('connect ECONNREFUSED 192.0.2.1:25', 'delayed'), {
    status: '4.0.0',
    diagnostic: 'X-Outpost; connect ECONNREFUSED 192.0.2.1:25',
  });
  assert.deepEqual(statusFromReply('5501 odd', 'failed'), {
    status: '5.0.0',
    diagnostic: 'X-Outpost; 5501 odd',
  });
  assert.deepEqual(statusFromReply(undefined, 'failed'), { status: '5.0.0' });
  assert.deepEqual(statusFromReply('  ', 'delivered'), { status: '2.0.0' });
});

test('control and non-ASCII characters never reach a delivery-status field', () => {
  assert.equal(
    statusFromReply('550 5.1.1 b\u00e4d\u0007 user', 'failed').diagnostic,
    'smtp; 550 5.1.1 b?d? user',
  );
});

const row: RecipientRow = {
  messageId: 'Q1',
  rcptIndex: 0,
  address: 'bob@example.net',
  orcpt: 'rfc822;bob@example.net',
  notify: ['FAILURE'],
  target: 'smtp',
  folder: '',
  status: 'failed',
  attempts: 3,
  nextAttemptAt: 0,
  lastReply: '550 5.1.1 no such user',
  updatedAt: 1_000_000,
};

test('a queue row becomes a report entry: status from its last reply, last attempt from its update', () => {
  assert.deepEqual(dsnRecipientFromRow(row, 'failed', { remoteMta: 'mx.example.net', willRetryUntil: 5 }), {
    address: 'bob@example.net',
    orcpt: 'rfc822;bob@example.net',
    action: 'failed',
    status: '5.1.1',
    diagnostic: 'smtp; 550 5.1.1 no such user',
    remoteMta: 'mx.example.net',
    lastAttempt: 1_000_000,
  });
  const delayed = dsnRecipientFromRow(
    { ...row, status: 'deferred', lastReply: '451 4.3.0 later' },
    'delayed',
    {
      willRetryUntil: 9_000_000,
    },
  );
  assert.equal(delayed.status, '4.3.0');
  assert.equal(delayed.willRetryUntil, 9_000_000);
});

test('a row that expired without any reply reports 4.4.7; one never tried has no Last-Attempt-Date', () => {
  const expired = dsnRecipientFromRow(
    { ...row, status: 'expired', attempts: 0, lastReply: undefined },
    'failed',
  );
  assert.equal(expired.status, '4.4.7');
  assert.equal(expired.diagnostic, 'X-Outpost; delivery time expired');
  assert.equal(expired.lastAttempt, undefined);
  const expiredWithReply = dsnRecipientFromRow(
    { ...row, status: 'expired', lastReply: '451 4.4.1 timeout' },
    'failed',
  );
  assert.equal(expiredWithReply.status, '4.4.1');
});

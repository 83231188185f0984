import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dsnSuppressedReason, eventOf, shouldNotify } from '../../../src/dsn/policy.js';

test('NOTIFY absent: failures and delays, not successes', () => {
  assert.equal(shouldNotify({}, 'failure'), true);
  assert.equal(shouldNotify({}, 'delay'), true);
  assert.equal(shouldNotify({}, 'success'), false);
});

test('NOTIFY=NEVER: nothing at all', () => {
  for (const event of ['failure', 'delay', 'success'] as const)
    assert.equal(shouldNotify({ notify: [] }, event), false);
});

test('NOTIFY lists: exactly the events asked for', () => {
  assert.equal(shouldNotify({ notify: ['SUCCESS'] }, 'success'), true);
  assert.equal(shouldNotify({ notify: ['SUCCESS'] }, 'failure'), false);
  assert.equal(shouldNotify({ notify: ['FAILURE'] }, 'delay'), false);
  assert.equal(shouldNotify({ notify: ['FAILURE', 'DELAY'] }, 'delay'), true);
});

test('each action reports one NOTIFY event', () => {
  assert.deepEqual((['failed', 'delayed', 'delivered', 'relayed', 'expanded'] as const).map(eventOf), [
    'failure',
    'delay',
    'success',
    'success',
    'success',
  ]);
});

const plain = Buffer.from(
  'From: alice@example.org\r\nSubject: hi\r\n\r\nbody mentioning Content-Type: multipart/report\r\n',
);

test('an ordinary message from a person may be reported on', () => {
  assert.equal(dsnSuppressedReason({ sender: 'alice@example.org', headers: plain }), undefined);
});

test('never a DSN to the null sender', () => {
  assert.equal(dsnSuppressedReason({ sender: '', headers: plain }), 'the sender is the null sender');
});

test('never a DSN about a delivery or disposition report, whoever sent it', () => {
  for (const contentType of [
    'multipart/report; report-type=delivery-status; boundary="x"',
    'Multipart/Report;\r\n\treport-type="disposition-notification"; boundary=x',
    'multipart/report; boundary=x',
  ]) {
    const headers = Buffer.from(`From: a@example.org\r\nContent-Type: ${contentType}\r\n\r\n`);
    assert.equal(
      dsnSuppressedReason({ sender: 'alice@example.org', headers }),
      'the message is itself a delivery report',
    );
  }
  const otherReport = Buffer.from(
    'Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n',
  );
  assert.equal(dsnSuppressedReason({ sender: 'alice@example.org', headers: otherReport }), undefined);
});

test('auto-submitted mail from a mail system gets no DSN; from a person, or "no", it does', () => {
  const auto = Buffer.from('From: x@example.org\r\nAuto-Submitted: auto-replied (vacation)\r\n\r\n');
  assert.equal(
    dsnSuppressedReason({ sender: 'MAILER-DAEMON@example.org', headers: auto }),
    'the message is auto-submitted by a mail system',
  );
  assert.equal(
    dsnSuppressedReason({ sender: 'postmaster@example.org', headers: auto }),
    'the message is auto-submitted by a mail system',
  );
  assert.equal(dsnSuppressedReason({ sender: 'alice@example.org', headers: auto }), undefined);
  const notAuto = Buffer.from('Auto-Submitted: no\r\n\r\n');
  assert.equal(dsnSuppressedReason({ sender: 'mailer-daemon@example.org', headers: notAuto }), undefined);
  assert.equal(dsnSuppressedReason({ sender: 'mailer-daemon@example.org', headers: plain }), undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveryBatch } from '../../src/delivery/types.js';
import { createIm2000Route } from '../../src/im2000/discovery.js';
import { createPostOfficeTarget } from '../../src/im2000/target.js';
import { eventually, im2000World } from '../unit/im2000/world.js';

const BODY = Buffer.from(
  'Received: from smtp client\r\nFrom: alice@alice.example\r\nSubject: via SMTP\r\n\r\nhi\r\n',
);

function batch(recipients: string[]): DeliveryBatch {
  const now = Date.now();
  return {
    messageId: 'Q1',
    sender: 'alice@alice.example',
    receivedAt: now,
    body: BODY,
    recipients: recipients.map((address, rcptIndex) => ({
      messageId: 'Q1',
      rcptIndex,
      address,
      target: 'post-office',
      folder: '',
      status: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      updatedAt: now,
      sender: 'alice@alice.example',
      receivedAt: now,
      leaseUntil: now + 60_000,
    })),
  };
}

test('SMTP -> IM2000: im2000Route finds post offices, and the post-office target stores for pickup', async (t) => {
  const world = await im2000World(t, {
    offices: [
      {
        domain: 'alice.example',
        ip: '127.0.0.2',
        users: ['alice'],
        options: { quotaBytes: 2 * BODY.length },
      },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'] },
    ],
    zone: '$ORIGIN plain.example.\n@ SOA ns.plain.example. h.plain.example. 1 3600 600 86400 300\n@ MX 10 mx\nmx A 127.0.0.9\n',
  });
  const route = createIm2000Route(world.dns.resolver);
  assert.equal(await route('bob.example'), true);
  assert.equal(await route('plain.example'), false);

  const alice = world.office('alice.example').running();
  const target = createPostOfficeTarget(alice);
  const prepared = await target.prepare(batch(['bob@bob.example']));
  assert.deepEqual(prepared.results, []);
  const [result] = await prepared.commit();
  assert.equal(result?.status, 'delivered');
  const id = /as (\S+)$/.exec(result?.reply.text ?? '')?.[1] ?? '';
  await eventually(() => alice.status(id).recipients[0]?.status === 'receipted', 'the receipt');
  assert.equal((await world.office('bob.example').inbox('bob')).length, 1);

  // Over quota: the queue keeps the message and tries again later (4xx), it is not lost.
  await (await target.prepare(batch(['bob@bob.example']))).commit();
  const [overQuota] = await (await target.prepare(batch(['bob@bob.example']))).commit();
  assert.equal(overQuota?.status, 'deferred');
  assert.equal(overQuota?.reply.code, 452);
});

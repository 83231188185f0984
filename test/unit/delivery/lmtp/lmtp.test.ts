import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  createLmtpTarget,
  dotStuffed,
  type LmtpEndpoint,
  lmtpConfigSchema,
  parseLmtpAddress,
  servedByLmtp,
} from '../../../../src/delivery/lmtp/index.js';
import type { DeliveryBatch, RecipientResult } from '../../../../src/delivery/types.js';
import type { LeasedRecipient } from '../../../../src/queue/store/types.js';
import { startLmtpServer } from './lmtp-server.js';

const RECEIVED = 1_700_000_000_000;
const BODY = Buffer.from('Subject: dots\r\n\r\n.leading dot\r\nmiddle\r\n..two dots\r\n.\r\nend\r\n');

function rcpt(address: string, rcptIndex: number): LeasedRecipient {
  return {
    messageId: '01HQUEUEID000000',
    rcptIndex,
    address,
    target: 'lmtp',
    folder: '',
    status: 'queued',
    attempts: 0,
    nextAttemptAt: RECEIVED,
    updatedAt: RECEIVED,
    sender: 'alice@sender.test',
    receivedAt: RECEIVED,
    leaseUntil: RECEIVED + 60_000,
  };
}

function batch(addresses: string[], body = BODY): DeliveryBatch {
  return {
    messageId: '01HQUEUEID000000',
    sender: 'alice@sender.test',
    receivedAt: RECEIVED,
    body,
    recipients: addresses.map((address, i) => rcpt(address, i)),
  };
}

async function deliver(endpoint: LmtpEndpoint, work: DeliveryBatch): Promise<Map<number, RecipientResult>> {
  const target = createLmtpTarget(endpoint, { lhloName: 'mx.test', timeoutMs: 5000 });
  const prepared = await target.prepare(work);
  const results = [...prepared.results, ...(await prepared.commit())];
  assert.equal(results.length, work.recipients.length, 'one result per recipient');
  return new Map(results.map((r) => [r.rcptIndex, r]));
}

function summary(results: Map<number, RecipientResult>): string[] {
  return [...results.values()]
    .sort((a, b) => a.rcptIndex - b.rcptIndex)
    .map((r) => `${r.rcptIndex} ${r.status} ${r.reply.code}`);
}

test('each accepted recipient is settled by its own reply after DATA', async (t) => {
  const server = await startLmtpServer(t, {
    rcpt: (address) => (address.startsWith('nobody') ? '550 5.1.1 User unknown' : '250 2.1.5 OK'),
    delivered: (address) => {
      if (address.startsWith('full')) return '452 4.2.2 Mailbox full';
      if (address.startsWith('huge')) return '552 5.2.2 Quota exceeded';
      return '250 2.0.0 Saved';
    },
  });
  const results = await deliver(
    { host: '127.0.0.1', port: server.port },
    batch(['bob@box.test', 'nobody@box.test', 'full@box.test', 'huge@box.test', 'carol@box.test']),
  );
  assert.deepEqual(summary(results), [
    '0 delivered 250',
    '1 failed 550',
    '2 deferred 452',
    '3 failed 552',
    '4 delivered 250',
  ]);
  assert.equal(results.get(2)?.reply.enhanced, '4.2.2');
  assert.equal(results.get(2)?.reply.text, 'Mailbox full');
  // QUIT follows without waiting, so it may not have arrived yet.
  assert.deepEqual(server.commands.slice(0, 8), [
    'LHLO mx.test',
    'MAIL FROM:<alice@sender.test>',
    'RCPT TO:<bob@box.test>',
    'RCPT TO:<nobody@box.test>',
    'RCPT TO:<full@box.test>',
    'RCPT TO:<huge@box.test>',
    'RCPT TO:<carol@box.test>',
    'DATA',
  ]);
  assert.deepEqual(server.messages, [BODY], 'dot-stuffing round-trips the message exactly');
});

test('a connection lost after DATA defers the recipients still waiting for their reply', async (t) => {
  const server = await startLmtpServer(t, {
    delivered: (address) => (address.startsWith('first') ? '250 2.0.0 Saved' : undefined),
  });
  const results = await deliver(
    { host: '127.0.0.1', port: server.port },
    batch(['first@box.test', 'second@box.test', 'third@box.test']),
  );
  assert.deepEqual(summary(results), ['0 delivered 250', '1 deferred 451', '2 deferred 451']);
  assert.match(results.get(1)?.reply.text ?? '', /no reply after DATA/);
});

test('MAIL refused: every recipient takes that reply, and nothing is sent', async (t) => {
  for (const [answer, status] of [
    ['451 4.3.0 Try later', 'deferred'],
    ['550 5.7.1 Sender refused', 'failed'],
  ] as const) {
    const server = await startLmtpServer(t, { mail: () => answer });
    const results = await deliver(
      { host: '127.0.0.1', port: server.port },
      batch(['a@box.test', 'b@box.test']),
    );
    assert.deepEqual(
      [...results.values()].map((r) => r.status),
      [status, status],
    );
    assert.equal(server.commands.includes('DATA'), false);
  }
});

test('no recipient accepted: no DATA, commit has nothing to do', async (t) => {
  const server = await startLmtpServer(t, { rcpt: () => '550 5.1.1 User unknown' });
  const results = await deliver(
    { host: '127.0.0.1', port: server.port },
    batch(['x@box.test', 'y@box.test']),
  );
  assert.deepEqual(summary(results), ['0 failed 550', '1 failed 550']);
  assert.equal(server.commands.includes('DATA'), false);
  assert.deepEqual(server.messages, []);
});

test('an unreachable or unready server defers everything', async (t) => {
  const refused = await startLmtpServer(t, { greeting: '421 4.3.2 Shutting down' });
  const unready = await deliver({ host: '127.0.0.1', port: refused.port }, batch(['a@box.test']));
  assert.deepEqual(summary(unready), ['0 deferred 451']);
  assert.match(unready.get(0)?.reply.text ?? '', /greeting answered 421/);
  // Nothing listens on port 1 of loopback (it would need root and a reason).
  const target = createLmtpTarget({ host: '127.0.0.1', port: 1 }, { lhloName: 'mx.test', timeoutMs: 5000 });
  const prepared = await target.prepare(batch(['a@box.test']));
  assert.equal(prepared.results[0]?.status, 'deferred');
  assert.match(prepared.results[0]?.reply.text ?? '', /unreachable/);
});

test('BODY=8BITMIME is asked for only when the message has 8-bit bytes and the server offers it', async (t) => {
  const server = await startLmtpServer(t, {});
  const eightBit = Buffer.from('Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n', 'utf8');
  await deliver({ host: '127.0.0.1', port: server.port }, batch(['a@box.test'], eightBit));
  await deliver({ host: '127.0.0.1', port: server.port }, batch(['a@box.test']));
  const mails = server.commands.filter((c) => c.startsWith('MAIL'));
  assert.deepEqual(mails, ['MAIL FROM:<alice@sender.test> BODY=8BITMIME', 'MAIL FROM:<alice@sender.test>']);
  assert.deepEqual(server.messages[0], eightBit);
});

test('delivers over a Unix socket', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-lmtp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'lmtp');
  const server = await startLmtpServer(t, {}, socketPath);
  const results = await deliver({ socketPath }, batch(['a@box.test']));
  assert.deepEqual(summary(results), ['0 delivered 250']);
  assert.equal(server.connections, 1);
});

test('dot-stuffing: leading dots doubled, a final CRLF added when missing', () => {
  assert.equal(dotStuffed(Buffer.from('.a\r\nb\r\n')).toString(), '..a\r\nb\r\n.\r\n');
  assert.equal(dotStuffed(Buffer.from('a\r\n.\r\n..')).toString(), 'a\r\n..\r\n...\r\n.\r\n');
  assert.equal(dotStuffed(Buffer.from('')).toString(), '.\r\n');
});

test('[delivery.lmtp] config: address forms, domains, defaults, errors', () => {
  const tcp = lmtpConfigSchema.parse({ address: '127.0.0.1:24', domains: ['Box.Test'] });
  assert.deepEqual(tcp, {
    address: { host: '127.0.0.1', port: 24 },
    domains: ['box.test'],
    timeout: 120_000,
  });
  const unix = lmtpConfigSchema.parse({ address: '/run/dovecot/lmtp', domains: ['a.test'], timeout: '30s' });
  assert.deepEqual(unix.address, { socketPath: '/run/dovecot/lmtp' });
  assert.equal(unix.timeout, 30_000);
  assert.deepEqual(parseLmtpAddress('[::1]:2424'), { host: '::1', port: 2424 });
  assert.equal(parseLmtpAddress('relative/socket'), undefined);
  assert.equal(parseLmtpAddress('host:99999'), undefined);
  assert.equal(lmtpConfigSchema.safeParse({ address: 'nope', domains: ['a.test'] }).success, false);
  assert.equal(lmtpConfigSchema.safeParse({ address: '127.0.0.1:24', domains: [] }).success, false);
  assert.equal(
    lmtpConfigSchema.safeParse({ address: '127.0.0.1:24', domains: ['a'], extra: 1 }).success,
    false,
  );
  assert.equal(servedByLmtp(tcp, 'Bob@BOX.test'), true);
  assert.equal(servedByLmtp(tcp, 'bob@other.test'), false);
});

async function deliverWith(
  target: ReturnType<typeof createLmtpTarget>,
  work: DeliveryBatch,
): Promise<string[]> {
  const prepared = await target.prepare(work);
  const results = [...prepared.results, ...(await prepared.commit())];
  return summary(new Map(results.map((r) => [r.rcptIndex, r])));
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('one connection carries several messages, with RSET between them, and close() QUITs it', async (t) => {
  const server = await startLmtpServer(t, {});
  const target = createLmtpTarget({ host: '127.0.0.1', port: server.port }, { lhloName: 'mx.test' });
  t.after(() => target.close());
  assert.deepEqual(await deliverWith(target, batch(['a@x.test'])), ['0 delivered 250']);
  assert.deepEqual(await deliverWith(target, batch(['b@x.test', 'c@x.test'])), [
    '0 delivered 250',
    '1 delivered 250',
  ]);
  assert.deepEqual(await deliverWith(target, batch(['d@x.test'])), ['0 delivered 250']);
  assert.equal(server.connections, 1);
  assert.equal(server.messages.length, 3);
  const verbs = server.commands.map((line) => line.split(' ')[0]);
  assert.deepEqual(verbs, [
    'LHLO',
    'MAIL',
    'RCPT',
    'DATA',
    'RSET',
    'MAIL',
    'RCPT',
    'RCPT',
    'DATA',
    'RSET',
    'MAIL',
    'RCPT',
    'DATA',
  ]);
  assert.equal(target.idleConnections(), 1);
  target.close();
  assert.equal(target.idleConnections(), 0);
  await until(() => server.commands.at(-1) === 'QUIT');
  assert.equal(server.commands.at(-1), 'QUIT');
});

test('an idle connection the server dropped is replaced, not a deferral', async (t) => {
  const server = await startLmtpServer(t, {});
  const target = createLmtpTarget({ host: '127.0.0.1', port: server.port }, { lhloName: 'mx.test' });
  t.after(() => target.close());
  assert.deepEqual(await deliverWith(target, batch(['a@x.test'])), ['0 delivered 250']);
  server.dropConnections();
  assert.deepEqual(await deliverWith(target, batch(['b@x.test'])), ['0 delivered 250']);
  assert.equal(server.connections, 2);
  assert.equal(server.messages.length, 2);
});

test('a connection is not reused after a lost reply, nor past its message limit', async (t) => {
  let dropNext = true;
  const server = await startLmtpServer(t, {
    delivered: () => {
      if (!dropNext) return '250 2.0.0 Saved';
      dropNext = false;
      return undefined;
    },
  });
  const target = createLmtpTarget(
    { host: '127.0.0.1', port: server.port },
    { lhloName: 'mx.test', maxMessagesPerConnection: 1 },
  );
  t.after(() => target.close());
  assert.deepEqual(await deliverWith(target, batch(['a@x.test'])), ['0 deferred 451']);
  assert.equal(target.idleConnections(), 0);
  assert.deepEqual(await deliverWith(target, batch(['b@x.test'])), ['0 delivered 250']);
  assert.deepEqual(await deliverWith(target, batch(['c@x.test'])), ['0 delivered 250']);
  assert.equal(server.connections, 3);
  assert.equal(server.commands.filter((line) => line === 'RSET').length, 0);
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { reply } from '../../../src/core/reply.js';
import { createMaildirTarget, ensureMailbox, listMaildir } from '../../../src/delivery/maildir/index.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../../../src/delivery/types.js';
import { QueueRunner, type QueueRunnerOptions } from '../../../src/queue/runner.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { NewMessage, RecipientRow, Store } from '../../../src/queue/store/types.js';
import { sampleMessage, T0 } from './store-contract.js';

const NOW = T0 + 1000;

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function captureLogger(lines: LogLine[]): QueueRunnerOptions['logger'] {
  const at =
    (level: string) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
    };
  return { info: at('info'), warn: at('warn'), error: at('error') } as QueueRunnerOptions['logger'];
}

/** A target that answers per recipient address from a script, and records every batch. */
function scriptedTarget(
  name: string,
  answer: (address: string) => RecipientResult['status'] | 'throw-prepare' | 'throw-commit',
): DeliveryTarget & { batches: DeliveryBatch[]; aborts: number } {
  const target = {
    name,
    batches: [] as DeliveryBatch[],
    aborts: 0,
    async prepare(batch: DeliveryBatch) {
      target.batches.push(batch);
      const plans = batch.recipients.map((r) => ({ r, plan: answer(r.address) }));
      if (plans.some((p) => p.plan === 'throw-prepare')) throw new Error('connection refused');
      return {
        results: [] as RecipientResult[],
        async commit(): Promise<RecipientResult[]> {
          if (plans.some((p) => p.plan === 'throw-commit')) throw new Error('lost connection after DATA');
          return plans.map(({ r, plan }) => ({
            rcptIndex: r.rcptIndex,
            status: plan === 'delivered' || plan === 'failed' ? plan : 'deferred',
            reply:
              plan === 'delivered'
                ? reply(250, '2.0.0', 'ok')
                : plan === 'failed'
                  ? reply(550, '5.1.1', 'no such user')
                  : reply(451, '4.4.1', 'try later'),
          }));
        },
        async abort() {
          target.aborts += 1;
        },
      };
    },
  };
  return target;
}

async function setup(
  t: TestContext,
  targets: Record<string, DeliveryTarget>,
  extra: Partial<QueueRunnerOptions> = {},
): Promise<{ store: Store; runner: QueueRunner; lines: LogLine[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-runner-'));
  const store = await openSqliteStore({ path: join(dir, 'queue.db'), bodiesDir: join(dir, 'bodies') });
  const lines: LogLine[] = [];
  const runner = new QueueRunner({
    store,
    targets,
    concurrency: 4,
    leaseMs: 60_000,
    pollMs: 50,
    logger: captureLogger(lines),
    clock: () => NOW,
    ...extra,
  });
  t.after(async () => {
    await runner.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, runner, lines };
}

/** Waits (bounded) until every recipient of the message has left 'queued'. */
async function settled(store: Store, id: string): Promise<RecipientRow[]> {
  for (let i = 0; i < 400; i++) {
    const rows = (await store.message(id))?.recipients ?? [];
    if (rows.length > 0 && rows.every((r) => r.status !== 'queued')) return rows;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`message ${id} was not processed`);
}

function message(addresses: string[], target = 'fake', extra: Partial<NewMessage> = {}): NewMessage {
  return sampleMessage({ recipients: addresses.map((address) => ({ address, target })), ...extra });
}

test('delivers, defers and fails per recipient, with one log line each naming the queue id', async (t) => {
  const fake = scriptedTarget('fake', (address) =>
    address.startsWith('ok') ? 'delivered' : address.startsWith('later') ? 'deferred' : 'failed',
  );
  const { store, runner, lines } = await setup(t, { fake });
  const m = message(['ok@x.example', 'later@x.example', 'bad@x.example']);
  await store.enqueue(m);
  runner.start();
  runner.kick();
  const rows = await settled(store, m.id);
  assert.deepEqual(
    rows.map((r) => [r.status, r.attempts, r.lastReply]),
    [
      ['delivered', 1, '250 2.0.0 ok'],
      ['deferred', 1, '451 4.4.1 try later'],
      ['failed', 1, '550 5.1.1 no such user'],
    ],
  );
  assert.equal(rows[1]?.nextAttemptAt, NOW + 60_000, 'first retry one minute later');
  assert.equal(fake.batches.length, 1, 'one prepare for all recipients of the message');
  assert.deepEqual(fake.batches[0]?.body, m.body);
  const deliveries = lines.filter((l) => l.message === 'delivery');
  assert.equal(deliveries.length, 3);
  for (const line of deliveries) assert.equal(line.fields.queueId, m.id);
  assert.deepEqual(
    deliveries.map((l) => l.level),
    ['info', 'info', 'warn'],
  );
});

test('a target that throws defers its recipients with 4.3.0; a failed commit is aborted', async (t) => {
  const broken = scriptedTarget('broken', () => 'throw-prepare');
  const flaky = scriptedTarget('flaky', () => 'throw-commit');
  const { store, runner } = await setup(t, { broken, flaky });
  const m = sampleMessage({
    recipients: [
      { address: 'a@x.example', target: 'broken' },
      { address: 'b@x.example', target: 'flaky' },
    ],
  });
  await store.enqueue(m);
  runner.start();
  const rows = await settled(store, m.id);
  assert.deepEqual(
    rows.map((r) => [r.status, r.lastReply]),
    [
      ['deferred', '451 4.3.0 Delivery failed: connection refused'],
      ['deferred', '451 4.3.0 Delivery failed: lost connection after DATA'],
    ],
  );
  assert.equal(flaky.aborts, 1);
});

test('an unknown target defers and is logged', async (t) => {
  const { store, runner, lines } = await setup(t, {});
  const m = message(['a@x.example'], 'carrier-pigeon');
  await store.enqueue(m);
  runner.start();
  const [row] = await settled(store, m.id);
  assert.equal(row?.status, 'deferred');
  assert.match(row?.lastReply ?? '', /^451 4\.3\.5 Unknown delivery target carrier-pigeon/);
  assert.ok(
    lines.some((l) => l.message === 'unknown delivery target' && l.fields.target === 'carrier-pigeon'),
  );
});

test('a deferral past the maximum age expires the recipient', async (t) => {
  const fake = scriptedTarget('fake', () => 'deferred');
  const { store, runner } = await setup(t, { fake }, { retry: { schedule: [60_000], maxAgeMs: 500 } });
  const m = message(['a@x.example']);
  await store.enqueue(m);
  runner.start();
  const [row] = await settled(store, m.id);
  assert.equal(row?.status, 'expired');
  assert.equal(row?.lastReply, '451 4.4.1 try later');
});

test('the body is loaded once per message, whatever the number of targets', async (t) => {
  const one = scriptedTarget('one', () => 'delivered');
  const two = scriptedTarget('two', () => 'delivered');
  const { store, runner } = await setup(t, { one, two });
  let bodyReads = 0;
  const realBody = store.body.bind(store);
  store.body = async (id: string) => {
    bodyReads += 1;
    return realBody(id);
  };
  const m = sampleMessage({
    recipients: [
      { address: 'a@x.example', target: 'one' },
      { address: 'b@x.example', target: 'two' },
      { address: 'c@x.example', target: 'one' },
    ],
  });
  await store.enqueue(m);
  runner.start();
  const rows = await settled(store, m.id);
  assert.ok(rows.every((r) => r.status === 'delivered'));
  assert.equal(bodyReads, 1);
  assert.deepEqual(
    one.batches.map((b) => b.recipients.map((r) => r.rcptIndex)),
    [[0, 2]],
  );
});

test('stop() waits for the delivery in progress and records it; nothing is leased after', async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const slow: DeliveryTarget = {
    name: 'slow',
    async prepare(batch) {
      entered();
      await gate;
      return {
        results: [],
        commit: async () =>
          batch.recipients.map((r) => ({
            rcptIndex: r.rcptIndex,
            status: 'delivered',
            reply: reply(250, '2.0.0', 'ok'),
          })),
        abort: async () => undefined,
      };
    },
  };
  const { store, runner } = await setup(t, { slow });
  const m = message(['a@x.example'], 'slow');
  await store.enqueue(m);
  runner.start();
  await started;
  let stopped = false;
  const stopping = runner.stop().then(() => {
    stopped = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stopped, false, 'stop waits for the delivery');
  release();
  await stopping;
  assert.equal((await store.message(m.id))?.recipients[0]?.status, 'delivered');
  const later = message(['b@x.example'], 'slow');
  await store.enqueue(later);
  runner.kick();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(
    (await store.message(later.id))?.recipients[0]?.status,
    'queued',
    'a stopped runner leases nothing',
  );
});

test('many messages are all delivered exactly once with limited concurrency', async (t) => {
  const fake = scriptedTarget('fake', () => 'delivered');
  const { store, runner } = await setup(t, { fake }, { concurrency: 3 });
  const messages = Array.from({ length: 30 }, () => message(['a@x.example', 'b@x.example']));
  await Promise.all(messages.map((m) => store.enqueue(m)));
  runner.start();
  for (const m of messages) await settled(store, m.id);
  const delivered = fake.batches.flatMap((b) => b.recipients.map((r) => `${r.messageId}/${r.rcptIndex}`));
  assert.equal(delivered.length, 60);
  assert.equal(new Set(delivered).size, 60);
  assert.equal((await store.stats()).byStatus.delivered, 60);
});

test('local delivery end to end: enqueue, kick, the message is in the Maildir', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'outpost-runner-mail-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await ensureMailbox(root, 'bob@rcpt.example');
  const maildir = createMaildirTarget({ root, hostname: 'mx.test' });
  const { store, runner } = await setup(t, { maildir });
  runner.start();
  const m = sampleMessage({
    recipients: [{ address: 'bob@rcpt.example', target: 'maildir', folder: 'Junk' }],
  });
  await store.enqueue(m);
  runner.kick();
  const [row] = await settled(store, m.id);
  assert.equal(row?.status, 'delivered');
  const files = await listMaildir(root, 'bob@rcpt.example', 'Junk');
  assert.equal(files.length, 1);
  const delivered = await readFile(files[0] ?? '');
  // Final delivery prepends the envelope trace (Return-Path, Delivered-To) to the queued message.
  assert.match(delivered.toString('latin1'), /^Return-Path: <alice@sender\.example>\r\n/);
  assert.deepEqual(delivered.subarray(delivered.length - m.body.length), m.body);
});

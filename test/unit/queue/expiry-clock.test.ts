// Held mail gets a full retry life after release: max_age and warn_after count from the release
// (or requeue), not from reception. Real SQLite store, real runner, a target that always says 451.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { reply } from '../../../src/core/reply.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../../../src/delivery/types.js';
import { applyQueueAction } from '../../../src/queue/operations.js';
import { QueueRunner } from '../../../src/queue/runner.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { NewMessage, RecipientRow, Store } from '../../../src/queue/store/types.js';
import { sampleMessage } from './store-contract.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Answers every recipient with a temporary failure, or accepts everything when `accept`. */
function target(name: string, accept = false): DeliveryTarget & { batches: DeliveryBatch[] } {
  const made = {
    name,
    batches: [] as DeliveryBatch[],
    async prepare(batch: DeliveryBatch) {
      made.batches.push(batch);
      return {
        results: [] as RecipientResult[],
        async commit(): Promise<RecipientResult[]> {
          return batch.recipients.map((r) =>
            accept
              ? { rcptIndex: r.rcptIndex, status: 'delivered', reply: reply(250, '2.0.0', 'ok') }
              : { rcptIndex: r.rcptIndex, status: 'deferred', reply: reply(451, '4.4.1', 'try later') },
          );
        },
        async abort() {},
      };
    },
  };
  return made;
}

async function setup(t: TestContext): Promise<{ store: Store; runner: QueueRunner }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-expiry-'));
  const store = await openSqliteStore({ path: join(dir, 'queue.db'), bodiesDir: join(dir, 'bodies') });
  const runner = new QueueRunner({
    store,
    targets: { remote: target('remote'), sink: target('sink', true) },
    concurrency: 4,
    leaseMs: 60_000,
    pollMs: 20,
    logger: quiet,
    retry: { schedule: [MINUTE], maxAgeMs: 5 * DAY },
    notices: {
      reportingMta: 'mx.outpost.example',
      warnAfterMs: 4 * HOUR,
      routeRecipient: (address) => ({ target: 'sink', address }),
    },
  });
  t.after(async () => {
    await runner.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, runner };
}

function message(address: string, ageMs: number, status: 'queued' | 'held' = 'queued'): NewMessage {
  return sampleMessage({
    receivedAt: Date.now() - ageMs,
    recipients: [{ address, target: 'remote', notify: ['FAILURE', 'DELAY'], status }],
  });
}

/** Waits (bounded) until the message's only recipient has been tried. */
async function tried(store: Store, id: string): Promise<RecipientRow> {
  for (let i = 0; i < 500; i++) {
    const [row] = (await store.message(id))?.recipients ?? [];
    if (row !== undefined && row.attempts > 0) return row;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`message ${id} was not tried`);
}

/** Kinds of the notices queued about a message so far. */
async function noticesAbout(store: Store, id: string): Promise<unknown[]> {
  const kinds: unknown[] = [];
  for (const row of await store.list({ sender: '' })) {
    const notice = await store.message(row.messageId);
    if (notice?.meta.about === id) kinds.push(notice.meta.dsn);
  }
  return kinds;
}

test('a recipient released 6 days after reception is deferred on a 4xx, not expired, and not yet "delayed"', async (t) => {
  const { store, runner } = await setup(t);
  const released = message('released@far.example', 6 * DAY, 'held');
  const neverHeld = message('old@far.example', 6 * DAY);
  const slow = message('slow@far.example', 5 * HOUR);
  for (const m of [released, neverHeld, slow]) await store.enqueue(m);
  const releasedAt = Date.now();
  assert.deepEqual(await applyQueueAction(store, released.id, 'release'), {
    id: released.id,
    action: 'release',
    changed: 1,
  });
  runner.start();

  const afterRelease = await tried(store, released.id);
  assert.equal(afterRelease.status, 'deferred', `released: ${afterRelease.lastReply}`);
  assert.ok(afterRelease.nextAttemptAt >= releasedAt + MINUTE, 'retried on the normal schedule');
  assert.equal(afterRelease.delayNotifiedAt, undefined);
  assert.deepEqual(await noticesAbout(store, released.id), [], 'warn_after counts from the release too');

  // The same age without a hold: max_age and warn_after count from reception as before.
  assert.equal((await tried(store, neverHeld.id)).status, 'expired');
  assert.deepEqual(await noticesAbout(store, neverHeld.id), ['failure']);
  assert.equal((await tried(store, slow.id)).status, 'deferred');
  assert.deepEqual(await noticesAbout(store, slow.id), ['delay']);
});

test('a requeued expired recipient gets a new retry life instead of expiring again at once', async (t) => {
  const { store, runner } = await setup(t);
  const m = message('old@far.example', 6 * DAY);
  await store.enqueue(m);
  runner.start();
  assert.equal((await tried(store, m.id)).status, 'expired');

  assert.equal((await applyQueueAction(store, m.id, 'requeue')).changed, 1);
  runner.kick();
  for (let i = 0; i < 500; i++) {
    const [row] = (await store.message(m.id))?.recipients ?? [];
    if (row !== undefined && row.attempts >= 2) {
      assert.equal(row.status, 'deferred', `after requeue: ${row.lastReply}`);
      assert.deepEqual(await noticesAbout(store, m.id), ['failure'], 'no second failure notice');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('the requeued recipient was not tried again');
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ChallengeService } from '../../../src/challenge/service.js';
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore, type SqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { NewRecipient } from '../../../src/queue/store/types.js';

export const ALICE = 'alice@example.org';
export const BOB = 'bob@example.org';
export const STRANGER = 'stranger@remote.example';
export const DAY = 86_400_000;

/** A real SQLite queue and challenge database in a temp dir, a settable clock, alice opted in. */
export interface ChallengeWorld {
  dir: string;
  store: SqliteStore;
  service: ChallengeService;
  clock: { now: number };
  /** Queues a message with these recipients (held unless said otherwise); returns its queue id. */
  queue(
    sender: string,
    recipients: Array<Partial<NewRecipient> & { address: string }>,
    headers?: string,
  ): Promise<string>;
}

export async function challengeWorld(
  t: TestContext,
  options: { dailyLimit?: number; domainDailyLimit?: number; baseUrl?: string } = {},
): Promise<ChallengeWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-challenge-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({
    path: join(dir, 'queue', 'queue.db'),
    bodiesDir: join(dir, 'bodies'),
  });
  t.after(() => store.close());
  const clock = { now: Date.UTC(2026, 2, 1, 12, 0, 0) };
  for (const address of [ALICE, BOB]) {
    await store.addUser({ address, settings: { quota: '1G' }, createdAt: clock.now });
  }
  const service = new ChallengeService({
    store,
    file: join(dir, 'challenge.db'),
    hostname: 'mx.example.org',
    now: () => clock.now,
    ...options,
  });
  t.after(() => service.close());
  if (!(await service.setEnabled(ALICE, true))) throw new Error('alice is missing from the store');
  return {
    dir,
    store,
    service,
    clock,
    async queue(sender, recipients, headers = 'Subject: Hello there\r\nMessage-ID: <m1@remote.example>\r\n') {
      const id = newQueueId();
      await store.enqueue({
        id,
        sender,
        body: Buffer.from(`${headers}From: <${sender}>\r\n\r\nHi Alice.\r\n`),
        receivedAt: clock.now,
        meta: {},
        recipients: recipients.map((r) => ({ target: 'maildir', status: 'held', ...r })),
      });
      return id;
    },
  };
}

/** The statuses of a queued message's recipients, in order. */
export async function statuses(store: SqliteStore, queueId: string): Promise<string[] | undefined> {
  const message = await store.message(queueId);
  return message?.recipients.map((r) => r.status);
}

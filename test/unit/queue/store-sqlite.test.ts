import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  openSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
} from '../../../src/queue/store/sqlite/index.js';
import { migrations } from '../../../src/queue/store/sqlite/schema.js';
import { rejectsWith, runStoreContract, sampleMessage } from './store-contract.js';

runStoreContract('sqlite', (dir) =>
  openSqliteStore({ path: join(dir, 'queue.db'), bodiesDir: join(dir, 'bodies') }),
);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-sqlite-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function options(dir: string, extra: Partial<SqliteStoreOptions> = {}): SqliteStoreOptions {
  return { path: join(dir, 'queue.db'), bodiesDir: join(dir, 'bodies'), ...extra };
}

test('bodies up to inlineBodyMax stay in the row, larger ones get a file named by the id', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(options(dir, { inlineBodyMax: 1024 }));
  t.after(() => store.close());
  const inline = sampleMessage({ body: Buffer.alloc(1024, 'i') });
  const file = sampleMessage({ body: Buffer.alloc(1025, 'f') });
  await store.enqueue(inline);
  await store.enqueue(file);
  assert.deepEqual(await readdir(join(dir, 'bodies')), [file.id]);
  assert.deepEqual(await store.body(file.id), file.body);
  assert.deepEqual(await store.body(inline.id), inline.body);
  await store.remove(file.id);
  assert.deepEqual(await readdir(join(dir, 'bodies')), [], 'remove deletes the body file');
});

test('old body files without a row are removed at open; fresh ones and other files are left alone', async (t) => {
  const dir = await tempDir(t);
  const first = await openSqliteStore(options(dir, { inlineBodyMax: 10 }));
  const kept = sampleMessage();
  await first.enqueue(kept);
  await first.close();
  const bodies = join(dir, 'bodies');
  await writeFile(join(bodies, '01ORPHANBODY0000'), 'written before a crash, never committed');
  await writeFile(join(bodies, '01FRESHBODY00000'), 'another process may be about to commit it');
  await writeFile(join(bodies, 'notes.txt'), 'not ours');
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const name of ['01ORPHANBODY0000', 'notes.txt', kept.id])
    await utimes(join(bodies, name), hourAgo, hourAgo);

  const store = await openSqliteStore(options(dir, { inlineBodyMax: 10, orphanGraceMs: 60_000 }));
  t.after(() => store.close());
  assert.equal(store.orphansRemoved, 1);
  assert.deepEqual((await readdir(bodies)).sort(), [kept.id, '01FRESHBODY00000', 'notes.txt'].sort());
  assert.deepEqual(await store.body(kept.id), kept.body);
});

test('a full database refuses with DISK_FULL and keeps every acknowledged message (real SQLITE_FULL)', async (t) => {
  const dir = await tempDir(t);
  // max_page_count makes SQLite hit SQLITE_FULL exactly as a full disk would.
  const store = await openSqliteStore(options(dir, { maxDbBytes: 256 * 1024 }));
  const acknowledged: string[] = [];
  let refused = 0;
  for (let i = 0; i < 200 && refused === 0; i++) {
    const batch = Array.from({ length: 5 }, () => sampleMessage({ body: Buffer.alloc(8000, i) }));
    const results = await Promise.allSettled(batch.map((m) => store.enqueue(m)));
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') acknowledged.push(batch[index]?.id ?? '');
      else {
        refused += 1;
        const error: unknown = result.reason;
        assert.equal((error as { code?: unknown }).code, 'DISK_FULL');
      }
    });
  }
  assert.ok(refused > 0, 'the size limit was reached');
  assert.equal(store.failure, undefined, 'a full disk is not a dead store');
  await store.close();

  const reopened = await openSqliteStore(options(dir));
  t.after(() => reopened.close());
  assert.equal((await reopened.stats()).messages, acknowledged.length);
  for (const id of acknowledged) assert.ok(await reopened.message(id), `acknowledged ${id} is still there`);
  await reopened.enqueue(sampleMessage());
});

test('a body file hitting ENOSPC refuses with DISK_FULL and leaves nothing behind (fs.promises.open mocked)', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(options(dir, { inlineBodyMax: 100 }));
  t.after(() => store.close());
  const realOpen = fsp.open;
  t.mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (!String(args[0]).startsWith(join(dir, 'bodies'))) return handle;
    // The file exists (as after a real partial write); writing it fails as on a full disk.
    return Object.assign(Object.create(handle) as typeof handle, {
      writeFile: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
      close: () => handle.close(),
    });
  });
  const message = sampleMessage({ body: Buffer.alloc(5000, 'x') });
  await rejectsWith(store.enqueue(message), 'DISK_FULL');
  assert.deepEqual(await readdir(join(dir, 'bodies')), []);
  assert.equal(await store.message(message.id), undefined);
});

test('a dead writer thread rejects what it owed and everything after; acknowledged messages survive', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(options(dir));
  const acknowledged = sampleMessage();
  await store.enqueue(acknowledged);
  const inFlight = Array.from({ length: 50 }, () => store.enqueue(sampleMessage()));
  await store.terminateWriter();
  const settled = await Promise.allSettled(inFlight);
  const answered = settled.filter((r) => r.status === 'fulfilled').length;
  for (const result of settled) {
    if (result.status === 'rejected')
      assert.equal((result.reason as { code?: unknown }).code, 'QUEUE_UNAVAILABLE');
  }
  assert.match(store.failure ?? '', /queue writer/);
  await rejectsWith(store.enqueue(sampleMessage()), 'QUEUE_UNAVAILABLE');
  await rejectsWith(
    store.lease({ now: Date.now(), limit: 1, leaseMs: 1000, owner: 'x' }),
    'QUEUE_UNAVAILABLE',
  );
  await store.close();

  const reopened = await openSqliteStore(options(dir));
  t.after(() => reopened.close());
  assert.ok(await reopened.message(acknowledged.id));
  assert.ok((await reopened.stats()).messages >= 1 + answered);
});

test('refuses a bodies directory that is the database directory', async (t) => {
  const dir = await tempDir(t);
  await rejectsWith(openSqliteStore({ path: join(dir, 'queue.db'), bodiesDir: dir }), 'CONFIG_INVALID');
});

test('the schema is versioned, WAL is on, and a newer schema is refused', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(options(dir));
  await store.close();
  const db = new Database(join(dir, 'queue.db'));
  assert.equal(db.pragma('user_version', { simple: true }), migrations.length);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.pragma(`user_version = ${migrations.length + 1}`);
  db.close();
  await rejectsWith(openSqliteStore(options(dir)), 'QUEUE_UNAVAILABLE');
});

async function checkpointsAfterWrites(store: SqliteStore): Promise<number> {
  // The writer reports its counters with each answer, so a cheap write fetches fresh ones.
  for (let i = 0; i < 200; i++) {
    await store.flush();
    if (store.writerStats().checkpoints > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return store.writerStats().checkpoints;
}

for (const [when, extra] of [
  ['under load (own thread)', { checkpointBytes: 1, idleCheckpointMs: 60_000 }],
  ['when idle', { checkpointBytes: 1e12, idleCheckpointMs: 1 }],
] as const) {
  test(`the WAL is checkpointed ${when} and nothing is lost`, async (t) => {
    const dir = await tempDir(t);
    const store = await openSqliteStore(options(dir, extra));
    t.after(() => store.close());
    const messages = Array.from({ length: 40 }, () => sampleMessage());
    for (const message of messages) await store.enqueue(message);
    assert.ok((await checkpointsAfterWrites(store)) > 0);
    for (const message of messages) assert.deepEqual(await store.body(message.id), message.body);
  });
}

test('the queued_since migration starts the retry life of existing recipients at their reception', async (t) => {
  const dir = await tempDir(t);
  const receivedAt = 1_600_000_000_000;
  // A queue written by the outpost before the migration: two migrations, one queued recipient.
  const old = new Database(join(dir, 'queue.db'));
  const before = migrations.indexOf(migrations.find((sql) => sql.includes('queued_since')) ?? '');
  assert.ok(before > 0, 'the migration exists');
  for (const sql of migrations.slice(0, before)) old.exec(sql);
  old.pragma(`user_version = ${before}`);
  old
    .prepare(
      `INSERT INTO messages (id, sender, size, received_at, meta, body) VALUES ('01OLDMESSAGE0000', 'a@x.example', 2, ?, '{}', x'6869')`,
    )
    .run(receivedAt);
  old
    .prepare(
      `INSERT INTO recipients (message_id, rcpt_index, address, target, status, next_attempt_at, updated_at)
       VALUES ('01OLDMESSAGE0000', 0, 'b@y.example', 'smtp', 'queued', ?, ?)`,
    )
    .run(receivedAt, receivedAt);
  old.close();

  const store = await openSqliteStore(options(dir));
  t.after(() => store.close());
  const [leased] = await store.lease({ now: receivedAt, limit: 10, leaseMs: 1000, owner: 't' });
  assert.equal(leased?.messageId, '01OLDMESSAGE0000');
  assert.equal(leased?.expiryBase, receivedAt);
  const db = new Database(join(dir, 'queue.db'), { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT queued_since FROM recipients').all(), [{ queued_since: receivedAt }]);
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { crashBody } from './crash-shared.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const KILL_AFTER = 400;

test('kill -9 in mid-stream: every acknowledged message is there exactly once, byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  // A child that never gets going must not hang the suite; the assertions below then fail.
  setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );

  const acknowledged = new Map<string, number>();
  for await (const line of createInterface({ input: child.stdout })) {
    const [id, sequence] = line.split(' ');
    if (id === undefined || sequence === undefined) continue;
    acknowledged.set(id, Number(sequence));
    if (acknowledged.size === KILL_AFTER) child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed, it did not finish or crash');
  assert.ok(acknowledged.size >= KILL_AFTER);

  // No other process has this queue open now, so even fresh unreferenced body files are garbage.
  const store = await openSqliteStore({
    path: join(dir, 'queue.db'),
    bodiesDir: join(dir, 'bodies'),
    orphanGraceMs: 0,
  });
  t.after(() => store.close());
  for (const [id, sequence] of acknowledged) {
    const row = await store.message(id);
    assert.ok(row, `acknowledged message ${id} (#${sequence}) is missing`);
    assert.deepEqual(
      row.recipients.map((r) => [r.rcptIndex, r.address, r.status]),
      [
        [0, 'a@crash.example', 'queued'],
        [1, 'b@far.example', 'queued'],
      ],
    );
    assert.deepEqual(await store.body(id), crashBody(id, sequence), `body of ${id} differs`);
  }
  const stats = await store.stats();
  assert.ok(stats.messages >= acknowledged.size);
  assert.equal(stats.byStatus.queued, 2 * stats.messages, 'each message has its two recipients, once');
  // Whatever the child had written but not committed is gone: every body file left has its row.
  for (const name of await readdir(join(dir, 'bodies')))
    assert.ok(await store.message(name), `orphan ${name}`);
});

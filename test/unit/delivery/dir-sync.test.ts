import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectorySyncs } from '../../../src/delivery/maildir/dir-sync.js';

/** A sync function whose calls finish only when the test says so. */
function controlledSync() {
  const calls: { dir: string; finish: (error?: Error) => void }[] = [];
  const syncOnce = (dir: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ dir, finish: (error) => (error ? reject(error) : resolve()) });
    });
  return { calls, syncOnce };
}

const settled = async (promise: Promise<void>): Promise<string> => {
  const marker = Symbol('pending');
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    ),
    new Promise<symbol>((resolve) => setImmediate(() => resolve(marker))),
  ]);
  return outcome === marker ? 'pending' : String(outcome);
};

test('callers during a running sync share the next one, never the running one', async () => {
  const { calls, syncOnce } = controlledSync();
  const syncs = new DirectorySyncs(syncOnce);
  const first = syncs.sync('/m/new');
  const second = syncs.sync('/m/new');
  const third = syncs.sync('/m/new');
  assert.equal(calls.length, 1);
  calls[0]?.finish();
  assert.equal(await settled(first), 'resolved');
  // The running sync may have begun before their renames: they wait for a second one.
  assert.equal(await settled(second), 'pending');
  assert.equal(calls.length, 2);
  calls[1]?.finish();
  assert.equal(await settled(second), 'resolved');
  assert.equal(await settled(third), 'resolved');
  assert.equal(calls.length, 2);
});

test('directories are synced independently, and a failure reaches exactly its callers', async () => {
  const { calls, syncOnce } = controlledSync();
  const syncs = new DirectorySyncs(syncOnce);
  const inbox = syncs.sync('/a/new');
  const junk = syncs.sync('/a/.Junk/new');
  assert.deepEqual(
    calls.map((call) => call.dir),
    ['/a/new', '/a/.Junk/new'],
  );
  const waiting = syncs.sync('/a/new');
  calls[0]?.finish(new Error('EIO'));
  assert.equal(await settled(inbox), 'rejected: EIO');
  calls[1]?.finish();
  assert.equal(await settled(junk), 'resolved');
  calls[2]?.finish(new Error('EIO again'));
  assert.equal(await settled(waiting), 'rejected: EIO again');
  // Nothing running any more: the next caller starts a fresh sync at once.
  const later = syncs.sync('/a/new');
  assert.equal(calls.length, 4);
  calls[3]?.finish();
  assert.equal(await settled(later), 'resolved');
});

test('the default sync fsyncs a real directory and reports a missing one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dir-sync-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const syncs = new DirectorySyncs();
  await Promise.all([syncs.sync(dir), syncs.sync(dir), syncs.sync(dir)]);
  await assert.rejects(syncs.sync(join(dir, 'missing')), { code: 'ENOENT' });
});

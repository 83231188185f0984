// `outpost queue ...` against a real data directory, run as the operator would (a child process).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { Store } from '../../../src/queue/store/types.js';
import { runCli, tempDataDir } from '../../helpers/outpost-process.js';

async function withStore<T>(dataDir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({
    path: join(dataDir, 'queue/outpost.db'),
    bodiesDir: join(dataDir, 'queue/bodies'),
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

test('queue hold, stats, release, flush, requeue and remove from the command line', async (t) => {
  const data = await tempDataDir(t);
  const id = newQueueId();
  await withStore(data, (store) =>
    store.enqueue({
      id,
      sender: 'alice@sender.example',
      body: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
      receivedAt: Date.now(),
      meta: {},
      recipients: [
        { address: 'bob@far.example', target: 'smtp' },
        { address: 'carol@far.example', target: 'smtp' },
      ],
    }),
  );
  const cli = (...args: string[]) => runCli(['queue', ...args, '--data', data]);

  const hold = await cli('hold', id);
  assert.equal(hold.code, 0, hold.stderr);
  assert.equal(hold.stdout, `${id}: 2 recipients held\n`);

  const stats = await cli('stats');
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /^messages\s+1$/m);
  assert.match(stats.stdout, /^held\s+2$/m);
  assert.match(stats.stdout, /^queued\s+0$/m);

  const release = await cli('release', id);
  assert.equal(release.stdout, `${id}: 2 recipients released\n`);
  const flush = await cli('flush');
  assert.equal(flush.stdout, 'queue: 0 recipients due now\n', 'nothing was deferred');
  const requeue = await cli('requeue', id);
  assert.equal(requeue.stdout, `${id}: 0 recipients requeued\n`, 'queued recipients are not requeued');
  assert.deepEqual(
    await withStore(data, async (store) => (await store.message(id))?.recipients.map((r) => r.status)),
    ['queued', 'queued'],
  );

  const remove = await cli('remove', id);
  assert.equal(remove.code, 0, remove.stderr);
  assert.equal(remove.stdout, `${id}: removed\n`);
  assert.equal(await withStore(data, (store) => store.message(id)), undefined);

  const missing = await cli('hold', id);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NOT_FOUND: .*No message .* in the queue/);
});

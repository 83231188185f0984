import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChallengeService } from '../../../src/challenge/service.js';
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { runCli, runTsx, type ScriptRun, tempDataDir } from '../../helpers/outpost-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const entry = path.join(root, 'test/unit/challenge/cli-entry.ts');

/** `outpost challenge ...` in its own process, against a real data directory. */
function challengeCli(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, 'challenge', ...args]);
}

/** Queues a message held for `user` and records it, as the MX would; returns its queue id. */
async function holdOne(data: string, user: string): Promise<string> {
  const store = await openSqliteStore({
    path: path.join(data, 'queue/outpost.db'),
    bodiesDir: path.join(data, 'queue/bodies'),
  });
  const service = new ChallengeService({ store, file: path.join(data, 'challenge.db'), hostname: 'mx.test' });
  try {
    const id = newQueueId();
    await store.enqueue({
      id,
      sender: 'carol@remote.example',
      body: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
      receivedAt: Date.now(),
      meta: {},
      recipients: [{ address: user, target: 'maildir', status: 'held' }],
    });
    await service.afterQueued(id, [{ rcptIndex: 0, user }], 'carol@remote.example');
    return id;
  } finally {
    service.close();
    await store.close();
  }
}

test('outpost challenge: enable, tagged addresses, whitelist, list, an unknown id', async (t) => {
  const data = await tempDataDir(t);
  const user = 'alice@localhost';
  assert.equal((await runCli(['user', 'add', user, '--data', data])).code, 0);

  const enabled = await challengeCli(['enable', '--user', user, '--data', data]);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.match(enabled.stdout, /alice@localhost: challenge\/response on/);
  assert.match((await runCli(['user', 'list', '--data', data])).stdout, /alice@localhost challenge=on/);

  const keyword = await challengeCli(['address', '--user', user, 'keyword', 'list-x', '--data', data]);
  assert.match(keyword.stdout, /^alice-keyword-list\?x\.[0-9a-f]{6}@localhost\n$/);
  const dated = await challengeCli(['address', '--user', user, 'dated', '5d', '--data', data]);
  assert.match(dated.stdout, /^alice-dated-\d{10}\.[0-9a-f]{6}@localhost\nvalid until \d{4}-\d\d-\d\dT/);
  const sender = await challengeCli([
    'address',
    '--user',
    user,
    'sender',
    'Bob@Remote.Example',
    '--data',
    data,
  ]);
  assert.match(sender.stdout, /^alice-sender-[0-9a-f]{6}@localhost\n$/);

  assert.equal(
    (await challengeCli(['whitelist', 'add', '--user', user, 'Bob@Remote.Example', '--data', data])).code,
    0,
  );
  assert.match(
    (await challengeCli(['whitelist', 'list', '--user', user, '--data', data])).stdout,
    /^bob@remote\.example {2}\S+ {2}operator\n$/,
  );

  // A message held by the running server (here: in this process, on the same files).
  const queueId = await holdOne(data, user);
  const listed = await challengeCli(['list', '--data', data]);
  assert.match(
    listed.stdout,
    new RegExp(`^ {4}1  ${queueId}  alice@localhost  <carol@remote\\.example>  held `),
  );
  const released = await challengeCli(['release', '1', '--data', data]);
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, /released 1 \(queue id \w+, 1 recipient\(s\)\)/);
  const release = await challengeCli(['release', '7', '--data', data]);
  assert.equal(release.code, 1);
  assert.match(release.stderr, /7: no held message waiting/);
});

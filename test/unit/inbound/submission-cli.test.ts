import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { verifyPassword } from '../../../src/core/password.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { runCli, tempDataDir } from '../../helpers/outpost-process.js';

test('outpost user passwd and alias add|remove manage what submission checks', async (t) => {
  const data = await tempDataDir(t);
  const run = async (args: string[], input?: string) => {
    const result = await runCli([...args, '--data', data], input);
    return { ...result, output: result.stdout + result.stderr };
  };
  assert.equal((await run(['user', 'add', 'alice@localhost'])).code, 0);
  assert.equal((await run(['user', 'add', 'bob@localhost'])).code, 0);

  const passwd = await run(['user', 'passwd', 'Alice@localhost'], 'a new long password\n');
  assert.equal(passwd.code, 0, passwd.output);
  assert.equal((await run(['user', 'passwd', 'alice@localhost'], 'short\n')).code, 1);

  assert.equal((await run(['user', 'alias', 'add', 'alice@localhost', 'Sales@Example.test'])).code, 0);
  assert.equal((await run(['user', 'alias', 'add', 'alice@localhost', 'help@localhost'])).code, 0);
  const taken = await run(['user', 'alias', 'add', 'bob@localhost', 'sales@example.test']);
  assert.equal(taken.code, 1);
  assert.match(taken.output, /alice@localhost sends as it already/);
  assert.equal((await run(['user', 'alias', 'remove', 'alice@localhost', 'help@localhost'])).code, 0);

  const list = await run(['user', 'list']);
  assert.match(list.stdout, /^alice@localhost \(password\) aliases=sales@example\.test$/m);
  assert.match(list.stdout, /^bob@localhost$/m);

  const store = await openSqliteStore({
    path: path.join(data, 'queue/outpost.db'),
    bodiesDir: path.join(data, 'queue/bodies'),
  });
  t.after(() => store.close());
  const alice = await store.getUser('alice@localhost');
  assert.ok(alice?.passwordHash);
  assert.equal(await verifyPassword('a new long password', alice.passwordHash), true);
  assert.deepEqual(alice.settings, { aliases: 'sales@example.test' });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, tempDataDir } from '../../helpers/outpost-process.js';

test('outpost alias add, list, remove; foreign domains and --keep without a mailbox are refused', async (t) => {
  const data = await tempDataDir(t);
  const add = await runCli([
    'alias',
    'add',
    'info@localhost',
    'bob@example.org',
    'carol@example.net',
    '--data',
    data,
  ]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^info@localhost -> bob@example.org, carol@example.net$/m);

  const foreign = await runCli(['alias', 'add', 'info@elsewhere.example', 'bob@example.org', '--data', data]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /elsewhere\.example: domain is not one of ours/);

  const keep = await runCli(['alias', 'add', 'alice@localhost', 'x@example.org', '--keep', '--data', data]);
  assert.equal(keep.code, 1);
  assert.match(keep.stderr, /alice@localhost has no mailbox to keep a copy in/);

  const removed = await runCli(['alias', 'remove', 'info@localhost', 'carol@example.net', '--data', data]);
  assert.equal(removed.code, 0, removed.stderr);
  const listed = await runCli(['alias', 'list', '--data', data]);
  assert.equal(listed.stdout.trim(), 'info@localhost -> bob@example.org');
});

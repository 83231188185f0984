import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';

/** Runs the im2000 and feed command groups in a child process (they are not in main.ts yet). */
function runCommands(args: string[], input = ''): Promise<ScriptRun> {
  const script = `
    import { Command } from 'commander';
    import { registerIm2000Commands } from './src/cli/im2000.ts';
    import { registerFeedCommands } from './src/cli/feed.ts';
    const program = new Command('outpost');
    registerIm2000Commands(program);
    registerFeedCommands(program);
    await program.parseAsync(process.argv.slice(1), { from: 'user' });
  `;
  return runTsx(['--input-type=module', '-e', script, ...args], { input });
}

test('outpost im2000 keygen, records, send, status and recall work on the data dir', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-im2000-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    path.join(dir, 'outpost.toml'),
    'hostname = "po.alice.example"\ndomains = ["alice.example"]\n',
  );
  const data = ['--data', dir];

  const keygen = await runCommands(['im2000', 'keygen', '--port', '8443', ...data]);
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.match(
    keygen.stdout,
    /^_im2000\._tcp\.alice\.example\. 3600 IN SRV 10 0 8443 po\.alice\.example\.$/m,
  );
  assert.match(
    keygen.stdout,
    /^_im2000key\.alice\.example\. 3600 IN TXT "v=im1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/m,
  );
  const again = await runCommands(['im2000', 'keygen', ...data]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists/);
  const records = await runCommands(['im2000', 'records', '--port', '8443', ...data]);
  assert.equal(records.stdout, keygen.stdout.split('\n').slice(1).join('\n'));

  const send = await runCommands(
    [
      'im2000',
      'send',
      '--from',
      'alice@alice.example',
      '--to',
      'bob@bob.example',
      'carol@carol.example',
      ...data,
    ],
    'Subject: hi\r\n\r\nhello\r\n',
  );
  assert.equal(send.code, 0, send.stderr);
  const id = send.stdout.trim();
  const status = await runCommands(['im2000', 'status', id, '--json', ...data]);
  const parsed = JSON.parse(status.stdout) as { subject: string; recipients: { status: string }[] };
  assert.equal(parsed.subject, 'hi');
  assert.deepEqual(
    parsed.recipients.map((r) => r.status),
    ['pending', 'pending'],
  );
  const recall = await runCommands(['im2000', 'recall', id, ...data]);
  assert.equal(recall.code, 0, recall.stderr);
  assert.match(recall.stdout, /recalled .* bob@bob\.example/);
  const twice = await runCommands(['im2000', 'recall', id, ...data]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /IM2000_ALREADY_FETCHED/);
  const notLocal = await runCommands(
    ['im2000', 'send', '--from', 'x@elsewhere.example', '--to', 'bob@bob.example', ...data],
    'x',
  );
  assert.match(notLocal.stderr, /BAD_ADDRESS/);
});

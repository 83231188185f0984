// `outpost sendmail` as a separate process writing into the queue that another process (this test,
// standing in for a running server) has open: SQLite in WAL mode shared by two processes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteStore, type SqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';

const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

function runSendmail(args: string[], input: string): Promise<ScriptRun> {
  return runTsx([entry, ...args], { input, killAfterMs: 60_000 });
}

/** A data directory with its store open in this process, as a running server would hold it. */
async function serverWithQueue(t: TestContext): Promise<{ dir: string; store: SqliteStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-sendmail-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'outpost.toml'),
    'hostname = "mx.test"\ndomains = ["example.test"]\nlog_level = "warn"\n[queue]\ninline_body_max = "1KB"\n',
  );
  const store = await openSqliteStore({
    path: join(dir, 'queue/outpost.db'),
    bodiesDir: join(dir, 'queue/bodies'),
    inlineBodyMax: 1024,
  });
  t.after(() => store.close());
  await store.addUser({ address: 'bob@example.test', settings: {}, createdAt: Date.now() });
  return { dir, store };
}

async function leaseAll(store: SqliteStore) {
  return store.lease({ now: Date.now() + 1000, limit: 1000, leaseMs: 60_000, owner: 'server' });
}

test('a message from sendmail in another process is leased by the server that has the queue open', async (t) => {
  const { dir, store } = await serverWithQueue(t);
  const message =
    'From: App <app@example.test>\nTo: bob@example.test\nBcc: carol@remote.test\nSubject: report\n\n.\n';
  const run = await runSendmail(['sendmail', '-t', '-i', '-f', 'app@example.test', '--data', dir], message);
  assert.equal(run.code, 0, run.stderr);
  const leased = await leaseAll(store);
  assert.deepEqual(
    leased.map((r) => [r.address, r.target, r.sender]),
    [
      ['bob@example.test', 'maildir', 'app@example.test'],
      ['carol@remote.test', 'smtp', 'app@example.test'],
    ],
  );
  const id = leased[0]?.messageId ?? '';
  const body = (await store.body(id))?.toString('latin1') ?? '';
  assert.match(body, /^Received: from local user \S+ \(uid \d+\)\r\n\tby mx\.test \(outpost sendmail\) id /);
  assert.match(body, /\r\nMessage-ID: <[0-9A-Z]{16}@mx\.test>\r\nDate: /);
  assert.doesNotMatch(body, /Bcc|carol/i, 'the blind copy stays blind');
  assert.match(body, /\r\n\r\n\.\r\n$/, 'with -i a lone dot is part of the message');
  assert.equal((await store.message(id))?.meta.listener, 'sendmail');
});

test('several sendmail processes and the server write the same queue at once; nothing is lost', async (t) => {
  const { dir, store } = await serverWithQueue(t);
  const children = Array.from({ length: 4 }, (_, i) =>
    runSendmail(['sendmail', 'bob', '--data', dir], `Subject: child ${i}\n\n${'x'.repeat(i * 800)}\n`),
  );
  const local = Array.from({ length: 50 }, (_, i) =>
    store.enqueue({
      id: `01SERVER${String(i).padStart(8, '0')}`,
      sender: 'x@remote.test',
      body: Buffer.from(`Subject: server ${i}\r\n\r\nbody\r\n`),
      receivedAt: Date.now(),
      meta: {},
      recipients: [{ address: 'bob@example.test', target: 'maildir' }],
    }),
  );
  const runs = await Promise.all(children);
  await Promise.all(local);
  for (const run of runs) assert.equal(run.code, 0, run.stderr);
  const leased = await leaseAll(store);
  assert.equal(leased.length, 54);
  const fromChildren = leased.filter((r) => !r.messageId.startsWith('01SERVER'));
  assert.equal(fromChildren.length, 4);
  // Bodies over inline_body_max live in files written by the child: the server reads them too.
  for (const rcpt of fromChildren)
    assert.match((await store.body(rcpt.messageId))?.toString() ?? '', /Subject: child/);
});

test('-bs speaks SMTP on stdin and stdout; mailq lists what waits, with the last reply', async (t) => {
  const { dir, store } = await serverWithQueue(t);
  const dialogue = await runSendmail(
    ['sendmail', '-bs', '--data', dir],
    'EHLO app\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n' +
      'Subject: via -bs\r\n\r\n..dotted\r\n.\r\nQUIT\r\n',
  );
  assert.equal(dialogue.code, 0, dialogue.stderr);
  assert.match(dialogue.stdout, /^220 mx\.test /);
  assert.match(dialogue.stdout, /\r\n550 5\.1\.1 No such user here: nobody@example\.test\r\n/);
  const queued = /250 2\.0\.0 Ok: queued as ([0-9A-Z]{16})/.exec(dialogue.stdout)?.[1] ?? '';
  assert.notEqual(queued, '');
  assert.match((await store.body(queued))?.toString() ?? '', /\r\n\r\n\.dotted\r\n$/);
  const [rcpt] = await leaseAll(store);
  await store.complete([
    {
      messageId: queued,
      rcptIndex: rcpt?.rcptIndex ?? 0,
      status: 'deferred',
      reply: '451 4.2.0 Try later',
      nextAttemptAt: Date.now() + 60_000,
    },
  ]);
  const mailq = await runSendmail(['mailq', '--data', dir], '');
  assert.equal(mailq.code, 0, mailq.stderr);
  const lines = mailq.stdout.split('\n');
  assert.match(lines[1] ?? '', new RegExp(`^${queued}\\s+\\d+ .+  MAILER-DAEMON$`));
  assert.equal(lines[2]?.trim(), '(451 4.2.0 Try later)');
  assert.equal(lines[3]?.trim(), 'bob@example.test');
  assert.equal(lines.at(-2), '-- 1 Kbytes in 1 Request.');
});

test('sendmail exit codes follow sysexits: unknown local user 67, no recipients 64', async (t) => {
  const { dir, store } = await serverWithQueue(t);
  const unknown = await runSendmail(['sendmail', 'nobody@example.test', '--data', dir], 'Subject: x\n\nx\n');
  assert.equal(unknown.code, 67);
  assert.match(unknown.stderr, /No such user here/);
  const none = await runSendmail(['sendmail', '--data', dir], 'Subject: x\n\nx\n');
  assert.equal(none.code, 64);
  assert.deepEqual(await leaseAll(store), [], 'nothing was queued');
});

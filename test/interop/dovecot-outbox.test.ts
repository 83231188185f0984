// Interop with a real Dovecot (Debian dovecot-imapd) serving outpost's Maildirs: a mail client
// (Python imaplib) APPENDs a message to "Outbox"; outpost's Outbox watcher queues it and moves it to
// Sent, where the client finds it; a message with someone else's From: comes back as a notice in
// the INBOX and the message itself waits in Drafts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { silentLogger } from '../../src/core/log.js';
import { ensureMailbox } from '../../src/delivery/maildir/index.js';
import { LocalRecipients } from '../../src/inbound/recipients.js';
import { startOutboxWatcher } from '../../src/outbox/index.js';
import { openSqliteStore } from '../../src/queue/store/sqlite/index.js';
import type { Store } from '../../src/queue/store/types.js';
import { DOVECOT, DOVECOT_PASSWORD, type Dovecot, startDovecot } from '../helpers/dovecot.js';

const run = promisify(execFile);
const missing = [DOVECOT, '/usr/lib/dovecot/imap', '/usr/bin/python3'].filter((p) => !existsSync(p));
const skip =
  missing.length > 0
    ? `Dovecot or Python not installed (missing ${missing.join(', ')}; apt-get install dovecot-imapd python3)`
    : false;
const DOMAIN = 'example.test';
const ALICE = `alice@${DOMAIN}`;

interface World extends Dovecot {
  store: Store;
}

/** Our store with alice, her Maildir, and a Dovecot serving it over IMAP; all gone after the test. */
async function startWorld(t: TestContext): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-outbox-dovecot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({
    path: join(dir, 'queue/outpost.db'),
    bodiesDir: join(dir, 'queue/bodies'),
  });
  t.after(() => store.close());
  await store.addUser({ address: ALICE, settings: {}, createdAt: Date.now() });
  const dovecot = await startDovecot(t, {
    users: [ALICE],
    prepareMail: async (mailRoot) => {
      await ensureMailbox(mailRoot, ALICE);
    },
  });
  return { store, ...dovecot };
}

// The client side: "append" saves stdin's message into the Outbox as a mail client does (the folder
// is one outpost created, so the client finds it in LIST); "read" waits (bounded) until the Outbox
// is empty, then prints every folder's messages.
const IMAP_CLIENT = `
import imaplib, json, sys, time
command, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
imap = imaplib.IMAP4('127.0.0.1', port)
imap.login(user, password)
folders = [line.decode().rsplit(' ', 1)[-1].strip('"') for line in imap.list()[1]]
if command == 'append':
    assert 'Outbox' in folders, folders
    typ, data = imap.append('Outbox', '(\\\\Seen)', imaplib.Time2Internaldate(time.time()), sys.stdin.buffer.read())
    assert typ == 'OK', data
    print(json.dumps({'folders': folders}))
else:
    for attempt in range(300):
        imap.select('Outbox', readonly=True)
        if imap.search(None, 'ALL')[1][0].split() == []:
            break
        time.sleep(0.1)
    folders = [line.decode().rsplit(' ', 1)[-1].strip('"') for line in imap.list()[1]]
    result = {'folders': folders, 'messages': {}}
    for folder in folders:
        imap.select(folder, readonly=True)
        texts = []
        for num in imap.search(None, 'ALL')[1][0].split():
            texts.append(imap.fetch(num, '(RFC822)')[1][0][1].decode('utf-8', 'replace'))
        result['messages'][folder] = texts
    print(json.dumps(result))
imap.logout()
`;

async function imap(world: World, command: 'append' | 'read', message = ''): Promise<string> {
  const args = ['-c', IMAP_CLIENT, command, String(world.imapPort), ALICE, DOVECOT_PASSWORD];
  try {
    const child = run('python3', args, { timeout: 60_000 });
    child.child.stdin?.end(message);
    return (await child).stdout;
  } catch (error) {
    throw new Error(`IMAP ${command} failed: ${String(error)}\n${await world.log()}`);
  }
}

test('a message a mail client saves in Outbox over IMAP is queued and lands in Sent', { skip }, async (t) => {
  const world = await startWorld(t);
  const watcher = startOutboxWatcher({
    store: world.store,
    recipients: new LocalRecipients(new Set([DOMAIN]), world.store),
    hostname: 'mx.example.test',
    defaultDomain: DOMAIN,
    mailRoot: world.mailRoot,
    journalFile: join(world.mailRoot, '..', 'outbox.db'),
    intervalMs: 100,
    logger: silentLogger(),
  });
  t.after(() => watcher.stop());
  // The watcher creates the Outbox on its first scan; wait (bounded) for it before the client looks.
  for (let i = 0; i < 100 && !existsSync(join(world.mailRoot, DOMAIN, 'alice', '.Outbox', 'cur')); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const good =
    'From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nBcc: hidden@remote.test\r\n' +
    'Subject: sent over IMAP\r\n\r\nbody marker 5c1e\r\n';
  const forged = 'From: ceo@example.test\r\nTo: bob@remote.test\r\nSubject: wire the money\r\n\r\nnow\r\n';
  await imap(world, 'append', good);
  await imap(world, 'append', forged);
  const seen = JSON.parse(await imap(world, 'read')) as {
    folders: string[];
    messages: Record<string, string[]>;
  };

  assert.deepEqual(seen.messages.Outbox, [], await world.log());
  assert.equal(seen.messages.Sent?.length, 1, JSON.stringify(seen.folders));
  assert.match(seen.messages.Sent?.[0] ?? '', /Subject: sent over IMAP\r\n\r\nbody marker 5c1e\r\n$/);
  assert.equal(seen.messages.Drafts?.length, 1);
  assert.match(seen.messages.Drafts?.[0] ?? '', /Subject: wire the money/);
  assert.equal(seen.messages.INBOX?.length, 1, 'the refusal notice');
  const notice = seen.messages.INBOX?.[0] ?? '';
  assert.match(notice, /^From: Mail Delivery System <MAILER-DAEMON@mx\.example\.test>\r\n/);
  assert.match(notice, /\r\nSubject: Outbox: not sent: wire the money\r\n/);
  assert.match(notice, /<ceo@example\.test> is not one of yours/);

  const rows = await world.store.list({});
  assert.deepEqual(
    rows.map((row) => `${row.address} ${row.target}`),
    ['bob@remote.test smtp', 'hidden@remote.test smtp'],
  );
  const queued = await world.store.message(rows[0]?.messageId ?? '');
  assert.equal(queued?.sender, ALICE);
  assert.match(String(queued?.meta.outboxFile), /^alice@example\.test\//);
  const body = (await world.store.body(rows[0]?.messageId ?? ''))?.toString('utf8') ?? '';
  assert.match(body, /\r\nSubject: sent over IMAP\r\n/);
  assert.doesNotMatch(body, /hidden@remote\.test/);
});

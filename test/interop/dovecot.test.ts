// Interop with a real Dovecot (Debian dovecot-core, -lmtpd, -imapd), started by the test with its
// own config on loopback ports: outpost delivers over LMTP and Dovecot serves the message over IMAP;
// and Dovecot serves, unchanged, Maildirs that outpost's maildir target wrote (INBOX and .Junk).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createLmtpTarget } from '../../src/delivery/lmtp/index.js';
import { createMaildirTarget, ensureMailbox } from '../../src/delivery/maildir/index.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../../src/delivery/types.js';
import type { LeasedRecipient } from '../../src/queue/store/types.js';
import { DOVECOT, DOVECOT_PASSWORD, type Dovecot, startDovecot } from '../helpers/dovecot.js';

const run = promisify(execFile);
const missing = [DOVECOT, '/usr/lib/dovecot/lmtp', '/usr/lib/dovecot/imap'].filter((p) => !existsSync(p));
const skip =
  missing.length > 0
    ? `Dovecot not installed (missing ${missing.join(', ')}; apt-get install dovecot-lmtpd dovecot-imapd)`
    : false;

const IMAP_READER = `
import imaplib, json, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
imap = imaplib.IMAP4('127.0.0.1', port)
imap.login(user, password)
result = {'folders': [], 'messages': {}}
typ, folders = imap.list()
for line in folders:
    result['folders'].append(line.decode().rsplit(' ', 1)[-1].strip('"'))
for folder in result['folders']:
    imap.select(folder, readonly=True)
    typ, data = imap.search(None, 'ALL')
    texts = []
    for num in data[0].split():
        typ, parts = imap.fetch(num, '(RFC822)')
        texts.append(parts[0][1].decode('utf-8', 'replace'))
    result['messages'][folder] = texts
imap.logout()
print(json.dumps(result))
`;

/** What an IMAP client sees: the folders and the full text of every message in each. */
async function readOverImap(
  dovecot: Dovecot,
  user: string,
): Promise<{ folders: string[]; messages: Record<string, string[]> }> {
  try {
    const { stdout } = await run(
      'python3',
      ['-c', IMAP_READER, String(dovecot.imapPort), user, DOVECOT_PASSWORD],
      {
        timeout: 30_000,
      },
    );
    return JSON.parse(stdout);
  } catch (error) {
    throw new Error(`IMAP read failed: ${String(error)}\n${await dovecot.log()}`);
  }
}

function recipient(address: string, rcptIndex: number, target: string, folder = ''): LeasedRecipient {
  const now = Date.now();
  return {
    messageId: '01M9INTEROP00000',
    rcptIndex,
    address,
    target,
    folder,
    status: 'queued',
    attempts: 0,
    nextAttemptAt: now,
    updatedAt: now,
    sender: 'alice@sender.test',
    receivedAt: now,
    leaseUntil: now + 60_000,
    recovered: false,
  };
}

async function deliver(
  target: DeliveryTarget,
  body: string,
  recipients: LeasedRecipient[],
): Promise<RecipientResult[]> {
  const batch: DeliveryBatch = {
    messageId: '01M9INTEROP00000',
    sender: 'alice@sender.test',
    receivedAt: Date.now(),
    body: Buffer.from(body),
    recipients,
  };
  const prepared = await target.prepare(batch);
  return [...prepared.results, ...(await prepared.commit())].sort((a, b) => a.rcptIndex - b.rcptIndex);
}

test('outpost delivers over LMTP to Dovecot; the message reads back over IMAP', { skip }, async (t) => {
  const dovecot = await startDovecot(t, { users: ['bob@example.test'], lmtp: true });
  const target = createLmtpTarget(
    { host: '127.0.0.1', port: dovecot.lmtpPort },
    { lhloName: 'mx.test', timeoutMs: 20_000 },
  );
  const body =
    'From: alice@sender.test\r\nTo: bob@example.test\r\nSubject: over LMTP\r\n\r\n.a dotted line\r\nbody marker 7f3a\r\n';
  const results = await deliver(target, body, [
    recipient('bob@example.test', 0, 'lmtp'),
    recipient('nobody@example.test', 1, 'lmtp'),
  ]);
  assert.deepEqual(
    results.map((r) => `${r.status} ${r.reply.code}`),
    ['delivered 250', 'failed 550'],
    await dovecot.log(),
  );
  const seen = await readOverImap(dovecot, 'bob@example.test');
  assert.equal(seen.messages.INBOX?.length, 1);
  const message = seen.messages.INBOX?.[0] ?? '';
  assert.match(message, /^Return-Path: <alice@sender\.test>\r\n/);
  assert.match(message, /\r\nSubject: over LMTP\r\n\r\n\.a dotted line\r\nbody marker 7f3a\r\n$/);
});

test('Dovecot serves the Maildirs outpost writes: INBOX and the Junk folder', { skip }, async (t) => {
  const dovecot = await startDovecot(t, {
    users: ['carol@example.test'],
    prepareMail: async (mailRoot) => {
      await ensureMailbox(mailRoot, 'carol@example.test');
      const maildir = createMaildirTarget({ root: mailRoot, hostname: 'mx.test' });
      const inbox = await deliver(maildir, 'Subject: for the inbox\r\n\r\nhello carol\r\n', [
        recipient('carol@example.test', 0, 'maildir'),
      ]);
      const junk = await deliver(
        maildir,
        'Subject: suspect\r\nX-Outpost-Verdict: quarantine\r\n\r\nspam?\r\n',
        [recipient('carol@example.test', 1, 'maildir', 'Junk')],
      );
      assert.deepEqual(
        [...inbox, ...junk].map((r) => r.status),
        ['delivered', 'delivered'],
      );
    },
  });
  const seen = await readOverImap(dovecot, 'carol@example.test');
  assert.deepEqual(seen.folders.sort(), ['INBOX', 'Junk'], await dovecot.log());
  assert.equal(seen.messages.INBOX?.length, 1);
  assert.match(seen.messages.INBOX?.[0] ?? '', /(^|\r\n)Subject: for the inbox\r\n\r\nhello carol\r\n$/);
  assert.equal(seen.messages.Junk?.length, 1);
  assert.match(seen.messages.Junk?.[0] ?? '', /X-Outpost-Verdict: quarantine\r\n\r\nspam\?\r\n$/);
});

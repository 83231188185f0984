// Interop with a real Dovecot (Debian dovecot-core, -lmtpd, -imapd), started by the test with its
// own config on loopback ports: outpost delivers over LMTP and Dovecot serves the message over IMAP;
// and Dovecot serves, unchanged, Maildirs that outpost's maildir target wrote (INBOX and .Junk).
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { createLmtpTarget } from '../../src/delivery/lmtp/index.js';
import { createMaildirTarget, ensureMailbox } from '../../src/delivery/maildir/index.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../../src/delivery/types.js';
import type { LeasedRecipient } from '../../src/queue/store/types.js';

const run = promisify(execFile);
const DOVECOT = '/usr/sbin/dovecot';
const missing = ['/usr/sbin/dovecot', '/usr/lib/dovecot/lmtp', '/usr/lib/dovecot/imap'].filter(
  (p) => !existsSync(p),
);
const skip =
  missing.length > 0
    ? `Dovecot not installed (missing ${missing.join(', ')}; apt-get install dovecot-lmtpd dovecot-imapd)`
    : false;
// Dovecot refuses mail access as root, so a root test run lets the mail processes run as nobody.
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const PASSWORD = 'secret-password';
// Debian's dovecot-core creates dovenull for login processes; nobody will do elsewhere.
const LOGIN_USER_AS_ROOT = /^dovenull:/m.test(readFileSync('/etc/passwd', 'utf8')) ? 'dovenull' : 'nobody';

interface Dovecot {
  imapPort: number;
  lmtpPort: number;
  mailRoot: string;
  log: () => Promise<string>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function chownTree(path: string, uid: number): Promise<void> {
  await chown(path, uid, uid);
  if (!(await stat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid);
}

function configText(dir: string, mailRoot: string, imapPort: number, lmtpPort: number): string {
  const me = userInfo().username;
  const accounts = asRoot
    ? // Login processes must not run as root; mail is read and written as nobody.
      `default_login_user = ${LOGIN_USER_AS_ROOT}\ndefault_internal_user = root\n` +
      `default_internal_group = root\nmail_uid = ${NOBODY}\nmail_gid = ${NOBODY}\n`
    : `default_login_user = ${me}\ndefault_internal_user = ${me}\nfirst_valid_uid = ${process.getuid?.() ?? 0}\n`;
  return `protocols = imap lmtp
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
${accounts}mail_location = maildir:${mailRoot}/%d/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0600
  }
}
`;
}

/** Starts Dovecot in the foreground for one test; users get PASSWORD; stopped after the test. */
async function startDovecot(
  t: TestContext,
  users: string[],
  prepareMail?: (mailRoot: string) => Promise<void>,
): Promise<Dovecot> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-dovecot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mailRoot = join(dir, 'mail');
  await mkdir(mailRoot);
  await prepareMail?.(mailRoot);
  if (asRoot) {
    await chmod(dir, 0o755);
    await chownTree(mailRoot, NOBODY);
  }
  await writeFile(join(dir, 'users'), users.map((u) => `${u}:{PLAIN}${PASSWORD}::::::\n`).join(''));
  const [imapPort, lmtpPort] = [await freePort(), await freePort()];
  await writeFile(join(dir, 'dovecot.conf'), configText(dir, mailRoot, imapPort, lmtpPort));
  const log = () => readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '(no log)');
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) break;
    if ((await accepts(imapPort)) && (await accepts(lmtpPort))) return { imapPort, lmtpPort, mailRoot, log };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Dovecot did not start:\n${output}\n${await log()}`);
}

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
    const { stdout } = await run('python3', ['-c', IMAP_READER, String(dovecot.imapPort), user, PASSWORD], {
      timeout: 30_000,
    });
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
  const dovecot = await startDovecot(t, ['bob@example.test']);
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
  const dovecot = await startDovecot(t, ['carol@example.test'], async (mailRoot) => {
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
  });
  const seen = await readOverImap(dovecot, 'carol@example.test');
  assert.deepEqual(seen.folders.sort(), ['INBOX', 'Junk'], await dovecot.log());
  assert.equal(seen.messages.INBOX?.length, 1);
  assert.match(seen.messages.INBOX?.[0] ?? '', /(^|\r\n)Subject: for the inbox\r\n\r\nhello carol\r\n$/);
  assert.equal(seen.messages.Junk?.length, 1);
  assert.match(seen.messages.Junk?.[0] ?? '', /X-Outpost-Verdict: quarantine\r\n\r\nspam\?\r\n$/);
});

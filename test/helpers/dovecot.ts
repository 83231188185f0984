// A private Dovecot (Debian dovecot-core with -imapd, and -lmtpd for LMTP) for interop tests: its own
// config, users file, Maildir root and log in a temp folder, listening on free loopback ports,
// started in the foreground and stopped after the test.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { accepts, freePort } from './net.js';

export const DOVECOT = '/usr/sbin/dovecot';
/** Every user of a test Dovecot logs in with this password. */
export const DOVECOT_PASSWORD = 'secret-password';
// Dovecot refuses mail access as root, so a root test run lets the mail processes run as nobody.
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
// Debian's dovecot-core creates dovenull for login processes; nobody will do elsewhere.
const LOGIN_USER_AS_ROOT = /^dovenull:/m.test(readFileSync('/etc/passwd', 'utf8')) ? 'dovenull' : 'nobody';

export interface DovecotOptions {
  /** Addresses that may log in (with DOVECOT_PASSWORD) and receive mail. */
  users: string[];
  /** Fills the Maildir root (<root>/<domain>/<local part>) before Dovecot starts. */
  prepareMail?: (mailRoot: string) => Promise<void>;
  /** Also serve LMTP (needs dovecot-lmtpd). */
  lmtp?: boolean;
}

export interface Dovecot {
  imapPort: number;
  /** The LMTP port; 0 when started without LMTP. */
  lmtpPort: number;
  mailRoot: string;
  log: () => Promise<string>;
}

async function chownTree(path: string, uid: number): Promise<void> {
  await chown(path, uid, uid);
  if (!(await stat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid);
}

function accountsText(): string {
  const me = userInfo().username;
  return asRoot
    ? // Login processes must not run as root; mail is read and written as nobody.
      `default_login_user = ${LOGIN_USER_AS_ROOT}\ndefault_internal_user = root\n` +
        `default_internal_group = root\nmail_uid = ${NOBODY}\nmail_gid = ${NOBODY}\n`
    : `default_login_user = ${me}\ndefault_internal_user = ${me}\nfirst_valid_uid = ${process.getuid?.() ?? 0}\n`;
}

function lmtpService(port: number): string {
  return `service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${port}
  }
  unix_listener lmtp {
    mode = 0600
  }
}
`;
}

function configText(dir: string, mailRoot: string, imapPort: number, lmtpPort: number): string {
  return `protocols = imap${lmtpPort ? ' lmtp' : ''}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
${accountsText()}mail_location = maildir:${mailRoot}/%d/%n
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
${lmtpPort ? lmtpService(lmtpPort) : ''}`;
}

/** Starts Dovecot in the foreground for one test, waits (bounded) until it listens; stopped after the test. */
export async function startDovecot(
  t: TestContext,
  { users, prepareMail, lmtp = false }: DovecotOptions,
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
  await writeFile(join(dir, 'users'), users.map((u) => `${u}:{PLAIN}${DOVECOT_PASSWORD}::::::\n`).join(''));
  const imapPort = await freePort();
  const lmtpPort = lmtp ? await freePort() : 0;
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
  const ready = async () => (await accepts(imapPort)) && (lmtpPort === 0 || (await accepts(lmtpPort)));
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) break;
    if (await ready()) return { imapPort, lmtpPort, mailRoot, log };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Dovecot did not start:\n${output}\n${await log()}`);
}

// A private Postfix instance for interop tests: its own main.cf, master.cf, queue and log in a temp
// folder, nothing under /etc touched. The master runs in the foreground (-d) as a child process that
// leads its own process group, so stopping it ends every Postfix daemon it started.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);

export const POSTFIX_MASTER = '/usr/lib/postfix/sbin/master';
/** The uid and gid virtual(8) writes mailboxes as: nobody, which exists everywhere. */
export const MAILBOX_UID = 65534;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Why the Postfix tests cannot run here, or false when they can. */
export function postfixUnavailable(): string | false {
  if (!existsSync(POSTFIX_MASTER)) {
    return `Postfix not installed (no ${POSTFIX_MASTER}; apt-get install postfix)`;
  }
  if (process.getuid?.() !== 0) return 'a private Postfix needs root (its queue belongs to the postfix user)';
  return false;
}

/** Where a private instance keeps its files. */
export interface PostfixPaths {
  /** The temp folder holding everything below. */
  root: string;
  /** config_directory: main.cf, master.cf and the caller's extra files. */
  etc: string;
  /** A folder for mailboxes, owned by MAILBOX_UID (virtual_mailbox_base). */
  mail: string;
  /** maillog_file: everything the daemons log. */
  log: string;
}

export interface PostfixOptions {
  /** The loopback address smtpd listens on; default 127.0.0.1. */
  address?: string;
  /** Extra main.cf parameters (they override the defaults), given the instance's paths. */
  main?: (paths: PostfixPaths) => Record<string, string>;
  /** Files written into the config folder before start, e.g. a texthash: transport table. */
  files?: Record<string, string>;
}

export interface Postfix {
  paths: PostfixPaths;
  address: string;
  /** The smtpd port on `address`. */
  port: number;
  /** Submits a message with Postfix's own sendmail(1) (postdrop, pickup), as a local program would. */
  sendmail(from: string, to: string[], message: string): Promise<void>;
  /** The log so far. */
  log(): Promise<string>;
  /** Waits (bounded) until the log matches; the error carries the log. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** True once something greets on the port. */
function greets(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function mainCf(paths: PostfixPaths, extra: Record<string, string>): string {
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: path.join(paths.root, 'queue'),
    data_directory: path.join(paths.root, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    // Postfix refuses an inet_interfaces address that no interface carries (127.0.0.4, say), though
    // Linux routes all of 127/8 to lo: the master.cf entry binds smtpd to the address instead.
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: 'postfix.test',
    mydomain: 'postfix.test',
    myorigin: '$myhostname',
    mydestination: '',
    mynetworks: '127.0.0.0/8',
    alias_maps: '',
    alias_database: '',
    maillog_file: paths.log,
    maillog_file_prefixes: paths.root,
    ...extra,
  };
  return `${Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n')}\n`;
}

/** The system master.cf with chroot off everywhere and smtpd on our address and port only. */
function masterCf(address: string, port: number): string {
  const lines = readFileSync('/etc/postfix/master.cf', 'utf8')
    .split('\n')
    .map((line) => {
      if (/^smtp\s+inet/.test(line)) return `${address}:${port} inet n - n - - smtpd`;
      if (/^[a-z]/.test(line)) {
        const fields = line.split(/\s+/);
        fields[4] = 'n'; // the private queue has no chroot set-up
        return fields.join(' ');
      }
      return line;
    });
  if (!lines.some((line) => /^postlog\s/.test(line))) lines.push('postlog unix-dgram n - n - 1 postlogd');
  return `${lines.join('\n')}\n`;
}

/** Ends the master and every daemon in its process group; resolves when the group is gone. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // The group is already gone.
    }
  };
  const groupAlive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (groupAlive()) signal('SIGKILL');
  for (let i = 0; i < 50 && groupAlive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

/**
 * Starts a private Postfix for one test: `postfix check` creates the queue, then the master runs as
 * a child process until the test ends, when its process group is stopped and the folder removed.
 */
export async function startPostfix(t: TestContext, options: PostfixOptions = {}): Promise<Postfix> {
  const address = options.address ?? '127.0.0.1';
  const root = await mkdtemp(path.join(tmpdir(), 'outpost-postfix-'));
  let master: ChildProcess | undefined;
  // One hook, so that the daemons are gone before their folder is.
  t.after(async () => {
    if (master) await stopGroup(master);
    await rm(root, { recursive: true, force: true });
  });
  // smtpd and the other daemons run as the postfix user and must reach the queue.
  await chmod(root, 0o755);
  const paths: PostfixPaths = {
    root,
    etc: path.join(root, 'etc'),
    mail: path.join(root, 'mail'),
    log: path.join(root, 'maillog'),
  };
  for (const sub of ['etc', 'queue', 'data', 'mail']) await mkdir(path.join(root, sub));
  const { stdout: postfixUid } = await run('id', ['-u', 'postfix']);
  await chown(path.join(root, 'data'), Number(postfixUid.trim()), -1);
  await chown(paths.mail, MAILBOX_UID, MAILBOX_UID);
  const port = await freePort(address);
  await writeFile(path.join(paths.etc, 'main.cf'), mainCf(paths, options.main?.(paths) ?? {}));
  await writeFile(path.join(paths.etc, 'master.cf'), masterCf(address, port));
  for (const [name, text] of Object.entries(options.files ?? {})) {
    await writeFile(path.join(paths.etc, name), text);
  }
  await run('postfix', ['-c', paths.etc, 'check']);

  // detached: the master leads a new process group, which every daemon it starts joins.
  const running = spawn(POSTFIX_MASTER, ['-c', paths.etc, '-d'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  master = running;
  let stderr = '';
  running.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });

  const log = () => readFile(paths.log, 'utf8').catch(() => '');
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (running.exitCode !== null) throw new Error(`Postfix master exited: ${stderr}\n${await log()}`);
    if (await greets(port, address)) break;
    if (Date.now() > deadline) throw new Error(`Postfix did not start: ${stderr}\n${await log()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  return {
    paths,
    address,
    port,
    sendmail(from, to, message) {
      return new Promise((resolve, reject) => {
        const child = spawn('sendmail', ['-C', paths.etc, '-i', '-f', from, '--', ...to], {
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        let errors = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          errors += chunk.toString();
        });
        child.once('error', reject);
        child.once('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`sendmail exited ${code}: ${errors}`)),
        );
        child.stdin?.end(message);
      });
    },
    log,
    async waitForLog(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await log();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`Postfix log never matched ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

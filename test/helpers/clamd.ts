import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net.js';

/** A clamd of our own on loopback, with one signature: the standard EICAR test file. */
export interface TestClamd {
  host: string;
  port: number;
  /** "127.0.0.1:<port>", as the antivirus check's `address` option wants it. */
  address: string;
  /** The UNIX socket clamd also listens on (the check's `socket` option). */
  socketPath: string;
}

/** Something that runs cleanup at the end: a test context, or a describe block's hook. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** MD5 and size of the 68-byte EICAR string; clamd reports it as Test.EICAR.UNOFFICIAL. */
const EICAR_SIGNATURE = '44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR';
/** clamd loads one signature in well under a second; this bounds the wait on a busy machine. */
const STARTUP_ATTEMPTS = 150;
const STARTUP_PAUSE_MS = 100;

/** Where clamd is, or undefined when ClamAV (Debian clamav-daemon) is not installed. */
export function findClamd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => path.join(dir, 'clamd')).find((candidate) => existsSync(candidate));
}

/** Why clamd tests cannot run here, or undefined when they can (use as a `skip` option). */
export function clamdMissingReason(): string | undefined {
  return findClamd() === undefined ? 'clamd is not installed (Debian package clamav-daemon)' : undefined;
}

/** The EICAR test string, assembled at run time so no file in the repository carries the signature. */
export function eicar(): Buffer {
  const parts = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}', '$EICAR-STANDARD-ANTIVIRUS', '-TEST-FILE!$H+H*'];
  return Buffer.from(parts.join(''), 'latin1');
}

/** Starts clamd with a temporary config and signature database; stops it and removes both on cleanup. */
export async function startClamd(
  cleanup: Cleanup,
  limits: { streamMaxLength?: string } = {},
): Promise<TestClamd> {
  const binary = findClamd();
  if (binary === undefined) throw new Error(clamdMissingReason());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-clamd-'));
  const database = path.join(dir, 'db');
  await mkdir(database);
  await writeFile(path.join(database, 'test.hdb'), `${EICAR_SIGNATURE}\n`);
  const port = await freePort();
  const socketPath = path.join(dir, 'clamd.sock');
  const config = [
    'Foreground yes',
    `TCPSocket ${port}`,
    'TCPAddr 127.0.0.1',
    `LocalSocket ${socketPath}`,
    `DatabaseDirectory ${database}`,
    `TemporaryDirectory ${dir}`,
    // Named so that clamd never switches to a user that cannot read the temporary directory.
    ...(process.getuid?.() === 0 ? ['User root'] : []),
    'MaxThreads 2',
    `StreamMaxLength ${limits.streamMaxLength ?? '1M'}`,
    'SelfCheck 0',
  ].join('\n');
  const configFile = path.join(dir, 'clamd.conf');
  await writeFile(configFile, `${config}\n`);
  const child = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanup.after(async () => {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  });
  for (let attempt = 0; attempt < STARTUP_ATTEMPTS; attempt++) {
    if (child.exitCode !== null) throw new Error(`clamd exited with ${child.exitCode}:\n${output}`);
    if (await pongs(port)) return { host: '127.0.0.1', port, address: `127.0.0.1:${port}`, socketPath };
    await sleep(STARTUP_PAUSE_MS);
  }
  throw new Error(`clamd did not answer PING on port ${port}:\n${output}`);
}

/** True when clamd answers zPING with PONG. */
function pongs(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\0')) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(reply.startsWith('PONG')));
  });
}

/** SIGTERM, then SIGKILL if clamd has not exited within 5 seconds. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(killer);
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'src/cli/main.ts');

export interface OutpostProcess {
  child: ChildProcess;
  smtpPort: number;
  httpPort: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
}

export interface ScriptRun {
  /** The exit code, or the signal's name when the process was killed. */
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface ScriptOptions {
  /** Written to the process's stdin, which is then closed. */
  input?: string;
  /** Kill the process (SIGKILL) if it is still running after this long. */
  killAfterMs?: number;
}

/**
 * Runs `node --import tsx <args>` in the project root to completion; resolves with its exit code and
 * output. OUTPOST_DATA_DIR is dropped so that no test reaches a developer's real data directory.
 */
export function runTsx(args: string[], { input = '', killAfterMs }: ScriptOptions = {}): Promise<ScriptRun> {
  const env = { ...process.env };
  delete env.OUTPOST_DATA_DIR;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Runs an outpost CLI command (src/cli/main.ts) to completion; resolves with its exit code and output. */
export function runCli(args: string[], input?: string): Promise<ScriptRun> {
  return runTsx([cli, ...args], { input });
}

/** A fresh data directory with a config on ephemeral loopback ports, removed after the test. */
export async function tempDataDir(t: TestContext, extraToml = ''): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-it-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    path.join(dir, 'outpost.toml'),
    `hostname = "mx.test"\ndomains = ["localhost"]\nlog_level = "warn"\n[http]\naddress = "127.0.0.1:0"\n` +
      `token = "test-token-0123456789"\n[[listeners]]\nname = "mx"\nprofile = "mx"\naddress = "127.0.0.1:0"\n${extraToml}`,
  );
  return dir;
}

/** Starts `outpost serve --data DIR` as a child process and waits for its "listening" lines. */
export async function startOutpostProcess(dataDir: string, timeoutMs = 30_000): Promise<OutpostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--data', dataDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const ports = await new Promise<{ smtp: number; http: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`outpost did not start in ${timeoutMs} ms:\n${out}\n${err}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const smtp = /listening: SMTP \(mx\)\s+\S+:(\d+)/.exec(out);
      const http = /listening: HTTP API\s+\S+:(\d+)/.exec(out);
      if (smtp && http) {
        clearTimeout(timer);
        resolve({ smtp: Number(smtp[1]), http: Number(http[1]) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`outpost exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
  return { child, smtpPort: ports.smtp, httpPort: ports.http, stdout: () => out, stderr: () => err, exited };
}

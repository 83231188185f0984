// Small pieces the accept harnesses share: free ports, waiting for a greeting, and the outpost
// they load (one MX listener, optionally delivering by LMTP to an smtp-sink).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/** A port in the upper range; the harnesses retry start-up on the rare collision. */
export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

/** Resolves once something on 127.0.0.1:port greets (sends any byte). */
export function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing answers on port ${port}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

/** Writes `dir`/outpost.toml: an MX on 127.0.0.1:`port` for localhost, local mail by LMTP when a sink port is given. */
export function writeBenchConfig(
  dir: string,
  port: number,
  options: { lmtpSinkPort?: number; logLevel?: string } = {},
): void {
  const lmtp =
    options.lmtpSinkPort === undefined
      ? ''
      : `[delivery.lmtp]\naddress = "127.0.0.1:${options.lmtpSinkPort}"\ndomains = ["localhost"]\n`;
  const logLevel = options.logLevel === undefined ? '' : `log_level = "${options.logLevel}"\n`;
  writeFileSync(
    path.join(dir, 'outpost.toml'),
    `hostname = "outpost.bench"\ndomains = ["localhost"]\n${logLevel}[http]\naddress = "127.0.0.1:0"\n` +
      `[[listeners]]\nname = "mx"\nprofile = "mx"\naddress = "127.0.0.1:${port}"\nmax_connections_per_ip = 200\n${lmtp}`,
  );
}

/** Starts `outpost serve` on `dir` (node flags first, e.g. --cpu-prof); its stderr goes to `dir`/outpost.log. */
export function spawnBenchOutpost(dir: string, nodeFlags: string[] = []): ChildProcess {
  const log = openSync(path.join(dir, 'outpost.log'), 'w');
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--data', dir],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', log],
    },
  );
  closeSync(log);
  return child;
}

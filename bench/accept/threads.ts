// CPU per message of outpost by thread group, for judging small changes on a shared machine: the
// wall-clock rate moves with other jobs' load, CPU time per message much less. Starts `outpost
// serve` (Maildir delivery, or LMTP to an smtp-sink with --lmtp-sink), warms it up, loads it with
// smtp-source, waits until delivery has drained, and prints CPU ms per message from
// /proc/PID/task/*/stat grouped by thread name, several rounds in one process.
//
//   npx tsx bench/accept/threads.ts [--messages 4000] [--rounds 2] [--persistent] [--lmtp-sink]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomPort, spawnBenchOutpost, waitForPort, writeBenchConfig } from './net.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '2' },
    sessions: { type: 'string', default: '20' },
    persistent: { type: 'boolean', default: false },
    'lmtp-sink': { type: 'boolean', default: false },
  },
});
const TICK_MS = 1000 / 100; // USER_HZ

/** CPU ms per thread name (libuv pool, V8 GC helpers, main and worker threads) of one process. */
function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    const group = tid === String(pid) ? 'main' : name.replace(/\d+$/, '#');
    byName.set(group, (byName.get(group) ?? 0) + ms);
  }
  return byName;
}

function total(cpu: Map<string, number>): number {
  return [...cpu.values()].reduce((sum, ms) => sum + ms, 0);
}

function smtpSource(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source exited ${code}`))));
  });
}

/** Waits until the process has used under 25 ms of CPU in half a second (delivery drained). */
async function settle(pid: number): Promise<void> {
  let last = total(threadCpu(pid));
  for (let i = 0; i < 120; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = total(threadCpu(pid));
    if (now - last < 25) return;
    last = now;
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-threads-'));
  const port = randomPort();
  let sink: ChildProcess | undefined;
  let lmtpSinkPort: number | undefined;
  if (values['lmtp-sink']) {
    const sinkPort = randomPort();
    sink = spawn('smtp-sink', ['-L', '-u', 'nobody', `127.0.0.1:${sinkPort}`, '1000'], { stdio: 'ignore' });
    await waitForPort(sinkPort);
    lmtpSinkPort = sinkPort;
  }
  writeBenchConfig(dir, port, lmtpSinkPort === undefined ? {} : { lmtpSinkPort });
  const child = spawnBenchOutpost(dir);
  try {
    await waitForPort(port);
    const pid = child.pid ?? 0;
    const target = ['-f', 'load@example.org', '-t', 'postmaster@localhost', `127.0.0.1:${port}`];
    const mode = values.persistent ? ['-d'] : [];
    await smtpSource(['-s', '20', '-m', '500', '-l', '4096', ...mode, ...target]);
    await settle(pid);
    const messages = Number(values.messages);
    console.log(
      `load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}`,
    );
    for (let round = 1; round <= Number(values.rounds); round++) {
      const before = threadCpu(pid);
      const started = Date.now();
      await smtpSource([
        '-s',
        String(values.sessions),
        '-m',
        String(messages),
        '-l',
        '4096',
        ...mode,
        ...target,
      ]);
      const seconds = (Date.now() - started) / 1000;
      await settle(pid);
      const after = threadCpu(pid);
      const perGroup = [...after]
        .map(([name, ms]) => [name, (ms - (before.get(name) ?? 0)) / messages] as const)
        .filter(([, perMessage]) => perMessage >= 0.005)
        .sort((a, b) => b[1] - a[1])
        .map(([name, perMessage]) => `${name} ${perMessage.toFixed(3)}`);
      const all = (total(after) - total(before)) / messages;
      console.log(
        `round ${round}: ${(messages / seconds).toFixed(0)} msg/s, CPU ${all.toFixed(3)} ms/msg: ${perGroup.join(', ')}`,
      );
    }
  } finally {
    await stop(child);
    if (sink !== undefined) await stop(sink);
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();

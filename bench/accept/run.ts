// Accept benchmark: Postfix's smtp-source against outpost (durable), a private Postfix (durable,
// into its hold queue) and smtp-sink (the protocol ceiling), in one run, new connection per
// message and with -d (one session per client). Prints a Markdown report.
//
//   npx tsx bench/accept/run.ts [--messages 20000] [--sessions 20] [--size 4096] [--out FILE]
//     [--only outpost,outpost-lmtp,postfix,sink]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomPort, spawnBenchOutpost, waitForPort, writeBenchConfig } from './net.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    sessions: { type: 'string', default: '20' },
    size: { type: 'string', default: '4096' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const SIZE = Number(values.size);
const RUN_CAP_MS = 10 * 60_000;

interface Server {
  name: string;
  port: number;
  pids: () => number[];
  stop: () => Promise<void>;
}

interface Figures {
  server: string;
  mode: string;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  probes: number;
  peakRssMb: number;
  cpuMsPerMessage: number;
  /** How long the server kept working after the load ended (outpost: local delivery catching up). */
  drainSeconds: number;
}

function processTree(rootPid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid === undefined || ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const all: number[] = [];
  const walk = (pid: number) => {
    all.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(rootPid);
  return all;
}

/** user+system CPU milliseconds and RSS in MB of some processes (those that still exist). */
function sample(pids: number[]): { cpuMs: number; rssMb: number } {
  const tick = 1000 / 100;
  let cpuMs = 0;
  let rssMb = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuMs += (Number(fields[11]) + Number(fields[12])) * tick;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rssMb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      // The process ended between ps and /proc (a Postfix smtpd, say).
    }
  }
  return { cpuMs, rssMb };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/**
 * outpost at its default log level (info: a line per queued message and per delivery, to a file).
 * Local mail goes to Maildir, or with lmtpSink to an smtp-sink speaking LMTP: the same accept path
 * without local delivery's file writes and fsyncs competing for the disk.
 */
async function startOutpost(lmtpSink: boolean): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-accept-outpost-'));
  const port = randomPort();
  const sink = lmtpSink ? await startSink(['-L']) : undefined;
  writeBenchConfig(dir, port, sink ? { lmtpSinkPort: sink.port } : {});
  const child = spawnBenchOutpost(dir);
  await waitForPort(port);
  return {
    name: lmtpSink
      ? 'outpost (durable, delivers by LMTP to smtp-sink)'
      : 'outpost (durable, delivers to Maildir)',
    port,
    pids: () => (child.pid ? processTree(child.pid) : []),
    stop: async () => {
      await stopChild(child);
      await sink?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private Postfix instance: its own config and queue, smtpd on one port, every message put on hold. */
async function startPostfix(): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-accept-postfix-'));
  const port = randomPort();
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(path.join(dir, sub));
  const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(path.join(dir, 'data'), uid, -1);
  writeFileSync(
    path.join(dir, 'etc/main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = postfix.bench',
      'mydestination = localhost',
      'mynetworks = 127.0.0.0/8',
      // Accept durably into the hold queue: Postfix does no delivery work during the run.
      'smtpd_client_restrictions = check_client_access static:HOLD',
      'maillog_file = /dev/stdout',
      'maillog_file_prefixes = /dev/stdout',
      'default_process_limit = 200',
      '',
    ].join('\n'),
  );
  const master = readFileSync('/etc/postfix/master.cf', 'utf8')
    .split('\n')
    .map((line) => {
      if (/^smtp\s+inet/.test(line)) return `127.0.0.1:${port} inet n - n - - smtpd`;
      if (/^[a-z]/.test(line)) {
        const fields = line.split(/\s+/);
        fields[4] = 'n'; // no chroot: the private queue has no chroot set-up
        return fields.join(' ');
      }
      return line;
    });
  master.push('postlog unix-dgram n - n - 1 postlogd');
  writeFileSync(path.join(dir, 'etc/master.cf'), master.join('\n'));
  // smtpd runs as the postfix user: it must reach the queue; `postfix check` creates the queue folders.
  chmodSync(dir, 0o755);
  execFileSync('postfix', ['-c', `${dir}/etc`, 'check'], { stdio: 'inherit' });
  const child = spawn('/usr/lib/postfix/sbin/master', ['-c', `${dir}/etc`, '-d'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(port);
  return {
    name: 'Postfix 3.7 (durable, hold queue)',
    port,
    pids: () => (child.pid ? processTree(child.pid) : []),
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** smtp-sink; extra arguments such as -L (speak LMTP). */
async function startSink(extra: string[] = []): Promise<Server> {
  const port = randomPort();
  const child = spawn('smtp-sink', [...extra, '-u', 'nobody', `127.0.0.1:${port}`, '1000'], {
    stdio: 'ignore',
  });
  await waitForPort(port);
  return {
    name: 'smtp-sink (protocol ceiling)',
    port,
    pids: () => (child.pid ? [child.pid] : []),
    stop: () => stopChild(child),
  };
}

/**
 * Measures end of data to the reply under load: one extra client sends messages one after the
 * other on its own connection for as long as the load runs.
 */
function latencyProbe(port: number): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  let socket: Socket | undefined;
  const body = `Subject: probe\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(Math.max(1, Math.floor(SIZE / 96)));
  const done = (async () => {
    socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    const waiters: ((line: string) => void)[] = [];
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (;;) {
        const match = /^(\d{3}) .*\r\n/m.exec(buffer);
        if (!match) break;
        buffer = buffer.slice((match.index ?? 0) + match[0].length);
        waiters.shift()?.(match[1] ?? '');
      }
    });
    socket.on('error', () => {
      running = false;
    });
    const reply = () => new Promise<string>((resolve) => waiters.push(resolve));
    await reply();
    socket.write('EHLO probe.bench\r\n');
    await reply();
    while (running) {
      socket.write('MAIL FROM:<probe@example.org>\r\n');
      await reply();
      socket.write('RCPT TO:<postmaster@localhost>\r\n');
      await reply();
      socket.write('DATA\r\n');
      await reply();
      socket.write(body);
      const started = process.hrtime.bigint();
      socket.write('.\r\n');
      const code = await reply();
      if (code === '250') samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.end('QUIT\r\n');
  })();
  return {
    stop: async () => {
      running = false;
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
      socket?.destroy();
      return samples;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Waits until the server is idle (under 5% of a core for half a second, at most a minute), so the
 * CPU per message includes work that lags behind the accepts, such as outpost's local delivery.
 */
async function settle(
  server: Server,
): Promise<{ after: { cpuMs: number; rssMb: number }; drainSeconds: number }> {
  const started = Date.now();
  let last = sample(server.pids());
  while (Date.now() - started < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = sample(server.pids());
    const busyMs = now.cpuMs - last.cpuMs;
    last = now;
    if (busyMs < 25) break;
  }
  return { after: last, drainSeconds: Math.max(0, (Date.now() - started - 500) / 1000) };
}

async function run(server: Server, persistent: boolean): Promise<Figures> {
  const args = ['-s', String(SESSIONS), '-m', String(MESSAGES), '-l', String(SIZE)];
  if (persistent) args.push('-d');
  args.push('-f', 'load@example.org', '-t', 'postmaster@localhost', `127.0.0.1:${server.port}`);
  const before = sample(server.pids());
  let peakRss = before.rssMb;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, sample(server.pids()).rssMb);
  }, 250);
  const probe = latencyProbe(server.port);
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    const cap = setTimeout(() => child.kill('SIGKILL'), RUN_CAP_MS);
    child.once('exit', (code) => {
      clearTimeout(cap);
      if (code === 0) resolve();
      else reject(new Error(`smtp-source exited with ${code}`));
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const latencies = (await probe.stop()).sort((a, b) => a - b);
  const { after, drainSeconds } = await settle(server);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, after.rssMb);
  return {
    server: server.name,
    mode: persistent ? 'one session per client (-d)' : 'connection per message',
    seconds,
    rate: MESSAGES / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    probes: latencies.length,
    peakRssMb: peakRss,
    cpuMsPerMessage: (after.cpuMs - before.cpuMs) / MESSAGES,
    drainSeconds,
  };
}

function cpuModel(): string {
  return cpus()[0]?.model ?? 'unknown';
}

async function main(): Promise<void> {
  for (const tool of ['smtp-source', 'smtp-sink']) {
    if (!existsSync(`/usr/sbin/${tool}`)) throw new Error(`${tool} is missing (Debian package postfix)`);
  }
  const starters: Record<string, () => Promise<Server>> = {
    outpost: () => startOutpost(false),
    'outpost-lmtp': () => startOutpost(true),
    postfix: startPostfix,
    sink: () => startSink(),
  };
  const chosen = values.only ? values.only.split(',') : Object.keys(starters);
  const figures: Figures[] = [];
  for (const persistent of [false, true]) {
    for (const name of chosen) {
      const start = starters[name];
      if (!start) throw new Error(`unknown server ${name}`);
      const server = await start();
      try {
        const result = await run(server, persistent);
        figures.push(result);
        process.stderr.write(`${result.server}, ${result.mode}: ${result.rate.toFixed(0)} msg/s\n`);
      } finally {
        await server.stop();
      }
    }
  }
  const fmt = (n: number, digits = 0) => (Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
  const sink = (mode: string) => figures.find((f) => f.mode === mode && f.server.startsWith('smtp-sink'));
  const postfix = (mode: string) => figures.find((f) => f.mode === mode && f.server.startsWith('Postfix'));
  const lines = [
    `Run ${new Date().toISOString()}: ${cpus().length} x ${cpuModel()}, Node ${process.version}, load average before ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `Command: npx tsx bench/accept/run.ts --messages ${MESSAGES} --sessions ${SESSIONS} --size ${SIZE}`,
    '',
    '| server | mode | msg/s | x smtp-sink | x Postfix | p50 ms | p99 ms | probes | peak RSS MB | CPU ms/msg | drain s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...figures.map((f) => {
      const s = sink(f.mode);
      const p = postfix(f.mode);
      return `| ${f.server} | ${f.mode} | ${fmt(f.rate)} | ${s ? fmt(f.rate / s.rate, 2) : 'n/a'} | ${p ? fmt(f.rate / p.rate, 2) : 'n/a'} | ${fmt(f.p50, 2)} | ${fmt(f.p99, 2)} | ${f.probes} | ${fmt(f.peakRssMb)} | ${fmt(f.cpuMsPerMessage, 3)} | ${fmt(f.drainSeconds, 1)} |`;
    }),
    '',
  ];
  const report = lines.join('\n');
  process.stdout.write(report);
  if (values.out) writeFileSync(values.out, report);
}

await main();

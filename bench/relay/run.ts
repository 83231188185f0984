// Relay benchmark: submission at A -> queue -> MX lookup -> SMTP to B -> Maildir at B, end to end.
// Two `outpost serve` processes (A = a.example on 127.0.0.2, B = b.example on 127.0.0.3) with
// generated configs; this process runs the DNS server they both resolve through (MX, A, PTR, A's
// DKIM keys) and the load client (STARTTLS + AUTH PLAIN once per session, then message after
// message). Latency is submit (final dot written) to the file appearing in B's Maildir new/.
// Optionally runs bench/accept for outpost alone with the same count, sessions and size, so the
// goal (relay >= half the accept rate) is judged within one run. Prints a Markdown report.
//
//   npx tsx bench/relay/run.ts [--messages 2000] [--sessions 10] [--size 4096]
//                              [--dkim on|off|check-only] [--tls on|off] [--accept on|off]
//                              [--concurrency N] [--per-destination N] [--profile DIR] [--out FILE]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dkimRecordName, dkimTxtRecord, loadDkimKeys } from '../../src/dkim/keys.js';
import { reverseName } from '../../src/dns/names.js';
import { startDnsServer } from '../../src/dns/server.js';
import { ZoneSet } from '../../src/dns/zone.js';
import { parseZoneFile } from '../../src/dns/zonefile.js';
import { encodeBody, type SmtpTestClient, submissionSession } from '../../test/helpers/smtp-client.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '10' },
    size: { type: 'string', default: '4096' },
    dkim: { type: 'string', default: 'on' },
    tls: { type: 'string', default: 'on' },
    accept: { type: 'string', default: 'on' },
    concurrency: { type: 'string' },
    'per-destination': { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const SIZE = Number(values.size);
/** on: A signs, B verifies; check-only: B runs the dkim check on unsigned mail; off: neither. */
const DKIM_MODE = values.dkim === 'off' || values.dkim === 'check-only' ? values.dkim : 'on';
const SIGN = DKIM_MODE === 'on';
const CHECK = DKIM_MODE !== 'off';
/** off: A's outbound SMTP skips STARTTLS ([delivery.smtp] tls = "none"). */
const TLS = values.tls !== 'off';
/** No new file in B's Maildir for this long ends the run as incomplete. */
const STALL_MS = 60_000;
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'src/cli/main.ts');

const A = { domain: 'a.example', host: 'mx.a.example', ip: '127.0.0.2' };
const B = { domain: 'b.example', host: 'mx.b.example', ip: '127.0.0.3' };
const SENDER = `alice@${A.domain}`;
const RECIPIENT = `bob@${B.domain}`;
const PASSWORD = 'relay-bench-password';

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes' files). */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

function waitForPort(host: string, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, host);
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing answers on ${host}:${port}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

/** Runs an outpost command to completion; throws with its output when it fails. */
function outpostCli(args: string[], input = ''): string {
  return execFileSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/** user+system CPU milliseconds of one process. */
interface CpuTime {
  user: number;
  system: number;
}

/** user and system CPU milliseconds of one process, all its threads. */
function cpuMs(pid: number | undefined): CpuTime {
  if (pid === undefined) return { user: 0, system: 0 };
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

function cpuText(cpu: CpuTime): string {
  return `${fmt(cpu.user + cpu.system, 2)} (${fmt(cpu.user, 2)} + ${fmt(cpu.system, 2)})`;
}

/** CPU milliseconds per message between two readings. */
function cpuPerMessage(before: CpuTime, after: CpuTime): CpuTime {
  return { user: (after.user - before.user) / MESSAGES, system: (after.system - before.system) / MESSAGES };
}

interface World {
  aDir: string;
  bDir: string;
  submissionPort: number;
  mxPort: number;
  dnsAddress: string;
}

function configToml(
  office: typeof A,
  world: World,
  dataDir: string,
  listeners: string,
  extra: string,
): string {
  return [
    `hostname = "${office.host}"`,
    `data_dir = "${dataDir}"`,
    `domains = ["${office.domain}"]`,
    'log_level = "warn"',
    '[http]',
    `address = "${office.ip}:0"`,
    '[dns]',
    `servers = ["${world.dnsAddress}"]`,
    listeners,
    extra,
    '',
  ].join('\n');
}

/** Writes both configs, adds alice (with a password) at A and bob at B, and A's DKIM keys when asked. */
async function prepare(world: World): Promise<void> {
  const aListeners = [
    '[[listeners]]',
    'name = "submission"',
    'profile = "submission"',
    `address = "${A.ip}:${world.submissionPort}"`,
    'max_connections_per_ip = 200',
  ].join('\n');
  const aExtra = [
    '[delivery]',
    `dkim_sign = ${SIGN}`,
    '[delivery.smtp]',
    `port = ${world.mxPort}`,
    ...(TLS ? [] : ['tls = "none"']),
    ...(values['per-destination'] ? [`max_per_destination = ${values['per-destination']}`] : []),
    ...(values.concurrency ? ['[queue]', `concurrency = ${values.concurrency}`] : []),
    // The benchmark sends far more than a person would: the per-user and per-IP limits are off.
    '[submission.rate_limits.per_user]',
    'messages_per_hour = 0',
    'recipients_per_hour = 0',
    '[submission.rate_limits.per_ip]',
    'messages_per_hour = 0',
    'recipients_per_hour = 0',
  ].join('\n');
  const bListeners = [
    '[[listeners]]',
    'name = "mx"',
    'profile = "mx"',
    `address = "${B.ip}:${world.mxPort}"`,
    'max_connections_per_ip = 200',
    ...(CHECK ? ['[[listeners.checks]]', 'use = "dkim"'] : []),
  ].join('\n');
  await writeFile(
    path.join(world.aDir, 'outpost.toml'),
    configToml(A, world, world.aDir, aListeners, aExtra),
  );
  await writeFile(path.join(world.bDir, 'outpost.toml'), configToml(B, world, world.bDir, bListeners, ''));
  outpostCli(['user', 'add', SENDER, '--data', world.aDir, '--password-stdin'], `${PASSWORD}\n`);
  outpostCli(['user', 'add', RECIPIENT, '--data', world.bDir]);
  if (SIGN) outpostCli(['dkim', 'keygen', A.domain, '--data', world.aDir]);
}

/** The zone both servers resolve through: MX and A of both domains, PTRs, A's DKIM key records. */
async function worldZone(aDir: string): Promise<string> {
  const lines: string[] = [];
  for (const office of [A, B]) {
    lines.push(`$ORIGIN ${office.domain}.`, `@ MX 10 ${office.host}.`, `${office.host}. A ${office.ip}`);
  }
  for (const [domain, keys] of SIGN ? await loadDkimKeys(aDir) : new Map()) {
    for (const key of keys)
      lines.push(`${dkimRecordName(key.selector, domain)}. TXT "${dkimTxtRecord(key)}"`);
  }
  lines.push('$ORIGIN 127.in-addr.arpa.');
  for (const office of [A, B]) lines.push(`${reverseName(office.ip)}. PTR ${office.host}.`);
  return `${lines.join('\n')}\n`;
}

/** With --profile DIR, each outpost writes a V8 CPU profile there when it stops (`node --cpu-prof`). */
function serve(dataDir: string): ChildProcess {
  const profile =
    values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`];
  return spawn(process.execPath, [...profile, '--import', 'tsx', cli, 'serve', '--data', dataDir], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A message of about SIZE bytes carrying its sequence number. */
function message(seq: number): string {
  const head = [
    `From: Alice <${SENDER}>`,
    `To: <${RECIPIENT}>`,
    `Subject: relay bench ${seq}`,
    `Message-ID: <relay-${seq}@${A.domain}>`,
    `X-Bench-Seq: ${seq}`,
    '',
  ].join('\r\n');
  const line = `${'x'.repeat(76)}\r\n`;
  return `${head}\r\n${line.repeat(Math.max(1, Math.floor((SIZE - head.length) / line.length)))}`;
}

/** Opens a submission session: STARTTLS, EHLO, AUTH PLAIN. */
function session(port: number): Promise<SmtpTestClient> {
  return submissionSession(port, A.ip, { user: SENDER, password: PASSWORD, ehlo: 'load.bench' });
}

interface Submitted {
  /** Final dot written, per sequence number. */
  submittedAt: Map<number, number>;
  /** Last 250 after DATA. */
  lastAcceptedAt: number;
  refused: string[];
}

/** SESSIONS sessions share MESSAGES messages, each sends its next as soon as the last is accepted. */
async function load(port: number): Promise<Submitted> {
  const submittedAt = new Map<number, number>();
  const refused: string[] = [];
  let next = 0;
  let lastAcceptedAt = 0;
  const worker = async () => {
    const client = await session(port);
    try {
      for (let seq = next++; seq < MESSAGES; seq = next++) {
        const steps = [`MAIL FROM:<${SENDER}>`, `RCPT TO:<${RECIPIENT}>`, 'DATA'];
        let failed: string | undefined;
        for (const step of steps) {
          const reply = await client.send(step);
          if (reply.code >= 400) {
            failed = `${step}: ${reply.code} ${reply.text}`;
            break;
          }
        }
        if (failed !== undefined) {
          refused.push(failed);
          await client.send('RSET');
          continue;
        }
        submittedAt.set(seq, now());
        client.sendRaw(encodeBody(message(seq)));
        const reply = await client.readReply();
        if (reply.code === 250) lastAcceptedAt = now();
        else refused.push(`end of data: ${reply.code} ${reply.text}`);
      }
      await client.send('QUIT').catch(() => undefined);
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, worker));
  return { submittedAt, lastAcceptedAt, refused };
}

/** Watches B's Maildir new/ and records when each file appears there. */
function watchMaildir(dir: string): { seen: Map<string, number>; close: () => void } {
  const seen = new Map<string, number>();
  const watcher = watch(dir, (_event, name) => {
    if (name !== null && !seen.has(name)) seen.set(name, now());
  });
  return { seen, close: () => watcher.close() };
}

/** Resolves once `count` files are in `dir`, or rejects after STALL_MS without a new one. */
async function waitForFiles(dir: string, count: number): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const present = (await readdir(dir)).length;
    if (present >= count) return;
    if (present !== last) {
      last = present;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALL_MS) {
      throw new Error(`only ${present} of ${count} messages reached B (no progress for ${STALL_MS} ms)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Delivery latency per message: appearance in new/ minus submit time, found by X-Bench-Seq. */
async function latencies(dir: string, seen: Map<string, number>, submitted: Submitted): Promise<number[]> {
  const result: number[] = [];
  for (const name of await readdir(dir)) {
    const text = await readFile(path.join(dir, name), 'utf8');
    const seq = Number(/^X-Bench-Seq: (\d+)/m.exec(text)?.[1]);
    const start = submitted.submittedAt.get(seq);
    const arrived = seen.get(name);
    if (start !== undefined && arrived !== undefined) result.push(arrived - start);
  }
  return result.sort((x, y) => x - y);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** bench/accept for outpost alone, same count/sessions/size; its rows as [mode, msg/s]. */
function acceptRates(): { mode: string; rate: number }[] {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/accept/run.ts',
      '--only',
      'outpost',
      '--messages',
      String(MESSAGES),
      '--sessions',
      String(SESSIONS),
      '--size',
      String(SIZE),
    ],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rows: { mode: string; rate: number }[] = [];
  for (const line of out.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells[1]?.startsWith('outpost')) rows.push({ mode: cells[2] ?? '', rate: Number(cells[3]) });
  }
  return rows;
}

interface Figures {
  delivered: number;
  refused: string[];
  seconds: number;
  relayRate: number;
  submitRate: number;
  p50: number;
  p99: number;
  max: number;
  cpuA: CpuTime;
  cpuB: CpuTime;
}

async function relay(): Promise<Figures> {
  const aDir = await mkdtemp(path.join(tmpdir(), 'bench-relay-a-'));
  const bDir = await mkdtemp(path.join(tmpdir(), 'bench-relay-b-'));
  const zones = new ZoneSet();
  const dns = await startDnsServer({ address: '127.0.0.1', port: 0, zones });
  const world: World = {
    aDir,
    bDir,
    submissionPort: randomPort(),
    mxPort: randomPort(),
    dnsAddress: `127.0.0.1:${dns.port}`,
  };
  const children: ChildProcess[] = [];
  try {
    await prepare(world);
    zones.replaceAll(parseZoneFile(await worldZone(aDir), { fileName: 'relay bench', defaultTtl: 300 }));
    const a = serve(aDir);
    const b = serve(bDir);
    children.push(a, b);
    await waitForPort(A.ip, world.submissionPort);
    await waitForPort(B.ip, world.mxPort);
    const inbox = path.join(bDir, 'mail', B.domain, 'bob', 'new');
    const watcher = watchMaildir(inbox);
    const cpuBefore = { a: cpuMs(a.pid), b: cpuMs(b.pid) };
    const started = now();
    const submitted = await load(world.submissionPort);
    await waitForFiles(inbox, submitted.submittedAt.size - submitted.refused.length);
    const finished = Math.max(...watcher.seen.values());
    watcher.close();
    const cpuA = cpuPerMessage(cpuBefore.a, cpuMs(a.pid));
    const cpuB = cpuPerMessage(cpuBefore.b, cpuMs(b.pid));
    const delays = await latencies(inbox, watcher.seen, submitted);
    const seconds = (finished - started) / 1000;
    return {
      delivered: delays.length,
      refused: submitted.refused,
      seconds,
      relayRate: delays.length / seconds,
      submitRate: submitted.submittedAt.size / ((submitted.lastAcceptedAt - started) / 1000),
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      max: delays[delays.length - 1] ?? Number.NaN,
      cpuA,
      cpuB,
    };
  } finally {
    await Promise.all(children.map(stopChild));
    await dns.close();
    await rm(aDir, { recursive: true, force: true });
    await rm(bDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const figures = await relay();
  process.stderr.write(`relay: ${figures.relayRate.toFixed(0)} msg/s, p99 ${figures.p99.toFixed(1)} ms\n`);
  const accept = values.accept === 'off' ? [] : acceptRates();
  const lines = [
    `Run ${new Date().toISOString()}: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, ` +
      `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
    `Command: npx tsx bench/relay/run.ts --messages ${MESSAGES} --sessions ${SESSIONS} --size ${SIZE} ` +
      `--dkim ${DKIM_MODE} --tls ${TLS ? 'on' : 'off'} --accept ${values.accept}`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| messages delivered into B's Maildir | ${figures.delivered} of ${MESSAGES} |`,
    `| refused at submission | ${figures.refused.length} |`,
    `| first submit to last file at B, s | ${fmt(figures.seconds, 2)} |`,
    `| **relay rate, msg/s (end to end)** | **${fmt(figures.relayRate)}** |`,
    `| submission accept rate at A, msg/s | ${fmt(figures.submitRate)} |`,
    `| delivery latency p50, ms | ${fmt(figures.p50, 1)} |`,
    `| **delivery latency p99, ms** | **${fmt(figures.p99, 1)}** |`,
    `| delivery latency max, ms | ${fmt(figures.max, 1)} |`,
    `| CPU ms per message, A (submission, queue, DKIM sign, SMTP out): user + system | ${cpuText(figures.cpuA)} |`,
    `| CPU ms per message, B (MX, ${CHECK ? 'DKIM verify, ' : ''}queue, Maildir): user + system | ${cpuText(figures.cpuB)} |`,
    ...accept.map(
      (row) =>
        `| bench/accept outpost, ${row.mode}, msg/s | ${fmt(row.rate)} (relay = ${fmt(figures.relayRate / row.rate, 2)}x) |`,
    ),
    '',
  ];
  if (figures.refused.length > 0) lines.push(`First refusal: ${figures.refused[0]}`, '');
  const report = lines.join('\n');
  process.stdout.write(report);
  if (values.out) await writeFile(values.out, report);
}

await main();

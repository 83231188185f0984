// Queries per second of outpost's trust list server against rbldnsd, same data, same queries,
// measured with dnsperf. Usage: npx tsx bench/trustlist/run.ts [--entries N] [--seconds S]
// [--workers 0,1] [--out FILE]. One dnsperf run per server, S seconds each.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportRbldnsd } from '../../src/trustlist/rbldnsd.js';
import { TrustListStore } from '../../src/trustlist/store.js';
import type { NewEntry } from '../../src/trustlist/types.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '0,1' },
    out: { type: 'string' },
  },
});
const ENTRIES = Number(values.entries);
const SECONDS = Number(values.seconds);
const WORKERS = (values.workers ?? '0').split(',').map(Number);
const ZONE = 'trust.test';
const QUERIES = 200_000;
const here = path.dirname(fileURLToPath(import.meta.url));

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) & 0x7fffffff;
    return state;
  };
}

const dotted = (value: number) =>
  `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;

/** ENTRIES networks from /16 to /32 across public-looking space, with texts (some naming the address). */
function dataset(random: () => number): { entries: NewEntry[]; starts: number[] } {
  const seen = new Set<string>();
  const entries: NewEntry[] = [];
  const starts: number[] = [];
  while (entries.length < ENTRIES) {
    const prefix = [32, 32, 32, 28, 24, 24, 20, 16][random() % 8] ?? 32;
    let first = 1 + (random() % 223);
    if (first === 127 || first === 10) first += 1;
    const value = (first * 2 ** 24 + (random() & 0xffffff)) >>> 0;
    const size = 2 ** (32 - prefix);
    const network = value - (value % size);
    const key = `${dotted(network)}/${prefix}`;
    if (seen.has(key)) continue;
    seen.add(key);
    starts.push(network, size);
    const text = random() % 2 ? `Listed by ${ZONE}: see https://${ZONE}/lookup?$` : '';
    entries.push({ network: key, category: 2 + (random() % 14), trust: random() % 4, text });
  }
  return { entries, starts };
}

/** Half the queries hit a listed network, half are anywhere; a quarter ask for TXT. */
function queryFile(random: () => number, starts: number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < QUERIES; i++) {
    let address: number;
    if (i % 2 === 0) {
      const pick = (random() % (starts.length / 2)) * 2;
      address = (starts[pick] ?? 0) + (random() % (starts[pick + 1] ?? 1));
    } else address = (1 + (random() % 223)) * 2 ** 24 + (random() & 0xffffff);
    const reversed = dotted(address >>> 0)
      .split('.')
      .reverse()
      .join('.');
    lines.push(`${reversed}.${ZONE} ${i % 4 === 3 ? 'TXT' : 'A'}`);
  }
  return `${lines.join('\n')}\n`;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

interface Rate {
  qps: number;
  lost: string;
  latency: string;
}

function dnsperf(port: number, queries: string): Rate {
  const run = spawnSync(
    'dnsperf',
    ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(SECONDS)],
    {
      encoding: 'utf8',
    },
  );
  if (run.error || run.status !== 0) throw new Error(`dnsperf failed: ${run.error?.message ?? run.stderr}`);
  const field = (label: string) => new RegExp(`${label}:\\s+(.+)`).exec(run.stdout)?.[1]?.trim() ?? '?';
  return {
    qps: Number(field('Queries per second')),
    lost: field('Queries lost'),
    latency: field('Average Latency \\(s\\)'),
  };
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${seen}`)), 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-trustlist-bench-'));
  chmodSync(dir, 0o755); // rbldnsd started as root reads the data as its own user
  const children: ChildProcess[] = [];
  try {
    const random = seeded(20_240_601);
    const { entries, starts } = dataset(random);
    const file = path.join(dir, 'trustlist.db');
    const store = TrustListStore.open(file);
    store.importEntries(entries, 'bench');
    writeFileSync(path.join(dir, 'list.txt'), exportRbldnsd(store.all(), 'ip4trie').text, { mode: 0o644 });
    store.close();
    const queries = path.join(dir, 'queries.txt');
    writeFileSync(queries, queryFile(random, starts));

    const rbldnsdPort = await freePort();
    const rbldnsd = spawn(
      'rbldnsd',
      ['-n', '-b', `127.0.0.1/${rbldnsdPort}`, '-w', dir, `${ZONE}:ip4trie:list.txt`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(rbldnsd);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // loads 100k lines, then listens
    const results: { name: string; rate: Rate }[] = [
      { name: 'rbldnsd (ip4trie)', rate: dnsperf(rbldnsdPort, queries) },
    ];
    rbldnsd.kill('SIGTERM');

    for (const workers of WORKERS) {
      const ours = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(here, 'serve.ts'), file, ZONE, String(workers)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(ours);
      const [, port] = await waitForLine(ours, /ready (\d+)/);
      const name =
        workers === 0 ? 'outpost, one process' : `outpost, ${workers + 1} processes (--workers ${workers})`;
      results.push({ name, rate: dnsperf(Number(port), queries) });
      ours.kill('SIGTERM');
    }

    const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    const baseline = results[0]?.rate.qps ?? 1;
    const report = [
      `Machine: ${os.cpus().length} CPUs (nproc), ${cpu}; Node ${process.version}; load average ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')} at the end.`,
      `Data: ${ENTRIES} entries (/16 to /32), ${QUERIES} queries (half listed, a quarter TXT), dnsperf -l ${SECONDS}.`,
      '',
      '| server | queries/s | vs rbldnsd | lost | mean latency (s) |',
      '| --- | ---: | ---: | --- | --- |',
      ...results.map(
        ({ name, rate }) =>
          `| ${name} | ${Math.round(rate.qps).toLocaleString('en')} | ${(rate.qps / baseline).toFixed(2)}x | ${rate.lost} | ${rate.latency} |`,
      ),
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (values.out) writeFileSync(values.out, `${report}\n`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

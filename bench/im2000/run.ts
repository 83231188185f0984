// IM2000 throughput between two post offices on loopback: alice stores N messages for bob, then
// every message takes one notice, one pull (with a synced Maildir write) and one receipt.
// Usage: node --import tsx bench/im2000/run.ts [--count N] [--size BYTES] [--plain]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { eventually, im2000World } from '../../test/unit/im2000/world.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    size: { type: 'string', default: '4096' },
    plain: { type: 'boolean', default: false },
  },
});
const count = Math.min(Number(values.count), 20_000);
const size = Number(values.size);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 64) {
  throw new Error('--count and --size must be positive whole numbers (size >= 64)');
}

function message(n: number): Buffer {
  const head = `From: alice@alice.example\r\nTo: bob@bob.example\r\nSubject: bench ${n}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, size - head.length), 'x')]);
}

const cleanups: (() => unknown)[] = [];
try {
  const world = await im2000World(
    { after: (fn) => cleanups.push(fn) },
    {
      tls: !values.plain,
      offices: [
        // A long retry interval: every notice in the figures is a first notice.
        {
          domain: 'alice.example',
          ip: '127.0.0.2',
          users: ['alice'],
          options: { retrySchedule: [0, 600_000], quotaBytes: 2 ** 40 },
        },
        { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'], options: { retrySchedule: [0, 600_000] } },
      ],
    },
  );
  const alice = world.office('alice.example').running();
  const started = performance.now();
  const ids: string[] = [];
  for (let n = 0; n < count; n++)
    ids.push(
      (await alice.send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: message(n) })).id,
    );
  const stored = performance.now();
  await eventually(() => alice.store.statusCounts().receipted === count, `${count} receipts`, 600_000);
  const done = performance.now();
  const files = (await world.office('bob.example').inbox('bob')).length;
  if (files !== count) throw new Error(`expected ${count} messages at bob, found ${files}`);
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const seconds = (done - started) / 1000;
  console.log(
    JSON.stringify({
      transport: values.plain ? 'http' : 'https',
      count,
      size,
      nproc: os.cpus().length,
      cpu,
      load: os.loadavg().map((l) => l.toFixed(2)),
      storeSeconds: ((stored - started) / 1000).toFixed(3),
      storesPerSecond: Math.round(count / ((stored - started) / 1000)),
      totalSeconds: seconds.toFixed(3),
      messagesPerSecond: Math.round(count / seconds),
    }),
  );
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

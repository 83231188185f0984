// The same list served by rbldnsd (from our export) and by outpost gives the same answers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { type DecodedPacket, decode, encode } from 'dns-packet';
import { dnsxlName } from '../../src/checks/dnsbl/dnsxl.js';
import { exportRbldnsd } from '../../src/trustlist/rbldnsd.js';
import { startTrustListServer } from '../../src/trustlist/serve.js';
import type { TrustListStore } from '../../src/trustlist/store.js';
import { tempStore } from '../unit/trustlist/fixtures.js';

const RBLDNSD = '/usr/sbin/rbldnsd';
const ADDRESSES = 10_000;
const CONCURRENCY = 50;
const TIME_CAP_MS = 120_000;

function rbldnsdMissing(): string | undefined {
  const probe = spawnSync(RBLDNSD, ['-h'], { encoding: 'utf8' });
  if (probe.error)
    return `${RBLDNSD} not runnable (${probe.error.message}); install the Debian package rbldnsd`;
  return undefined;
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) & 0x7fffffff;
    return state;
  };
}

const dotted = (value: number) =>
  `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;

/** A few hundred entries in a small corner of the space, so that they nest: /8 to /32, exclusions, texts. */
function fillDataset(store: TrustListStore, random: () => number): number[] {
  const networks: number[] = [];
  const seen = new Set<string>();
  const texts = [
    '',
    'Listed by trust.test, see https://trust.test/q?$',
    'ESP $$ cheap',
    'plain text',
    '$ first',
    'last $',
  ];
  const entries = [];
  while (entries.length < 400) {
    const prefix = [8, 12, 15, 16, 19, 22, 24, 25, 27, 29, 31, 32][random() % 12] ?? 32;
    const value = ((10 + (random() % 3)) * 2 ** 24 + (random() % 4) * 2 ** 16 + (random() & 0xffff)) >>> 0;
    const size = 2 ** (32 - prefix);
    const network = value - (value % size);
    const key = `${dotted(network)}/${prefix}`;
    if (seen.has(key)) continue;
    seen.add(key);
    networks.push(network, size);
    entries.push(
      random() % 7 === 0
        ? { network: key, exclude: true, reason: 'pool' }
        : {
            network: key,
            category: 2 + (random() % 14),
            trust: random() % 4,
            text: texts[random() % texts.length],
          },
    );
  }
  store.importEntries(entries, 'interop');
  return networks;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** One question's answer reduced to what must agree: rcode, A set, TXT set. */
interface Outcome {
  rcode: number;
  a: string[];
  txt: string[];
}

function outcomeOf(packet: DecodedPacket): Outcome {
  const a: string[] = [];
  const txt: string[] = [];
  for (const answer of packet.answers ?? []) {
    if (answer.type === 'A') a.push(answer.data);
    if (answer.type === 'TXT')
      txt.push((answer.data as Buffer[]).map((part) => part.toString('latin1')).join(''));
  }
  return { rcode: (packet.flags ?? 0) & 0xf, a: a.sort(), txt: txt.sort() };
}

/** Asks many questions over one UDP socket with at most CONCURRENCY in flight, retrying once. */
async function askAll(port: number, questions: { name: string; type: 'A' | 'TXT' }[]): Promise<Outcome[]> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const results: Outcome[] = new Array(questions.length);
  const waiting = new Map<number, { index: number; resolve: () => void }>();
  socket.on('message', (message) => {
    const packet = decode(message);
    const entry = waiting.get(packet.id ?? -1);
    if (!entry) return;
    waiting.delete(packet.id ?? -1);
    results[entry.index] = outcomeOf(packet);
    entry.resolve();
  });
  let next = 0;
  const ask = async (index: number): Promise<void> => {
    const question = questions[index];
    if (!question) return;
    for (let attempt = 0; attempt < 2 && results[index] === undefined; attempt++) {
      const id = (index * 2 + attempt) % 65_536;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve();
        }, 1000);
        waiting.set(id, {
          index,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        socket.send(encode({ type: 'query', id, questions: [question] }), port, '127.0.0.1');
      });
    }
    if (results[index] === undefined)
      throw new Error(`no answer from port ${port} for ${question.name} ${question.type}`);
  };
  const worker = async (): Promise<void> => {
    while (next < questions.length) await ask(next++);
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    socket.close();
  }
  return results;
}

async function startRbldnsd(
  t: TestContext,
  dir: string,
  port: number,
  zones: string[],
): Promise<ChildProcess> {
  const child = spawn(RBLDNSD, ['-n', '-b', `127.0.0.1/${port}`, '-w', dir, '-t', '300', ...zones], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  t.after(() => {
    child.kill('SIGTERM');
  });
  // Ready when it answers the RFC 5782 test point.
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const [answer] = await askAll(port, [{ name: `2.0.0.127.${zones[0]?.split(':')[0]}`, type: 'A' }]);
      if (answer?.a.includes('127.0.0.2')) return child;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) break;
  }
  throw new Error(`rbldnsd did not start: ${stderr}`);
}

test('rbldnsd (ip4trie and ip4set exports) and outpost answer 10,000 addresses alike', {
  skip: rbldnsdMissing(),
  timeout: TIME_CAP_MS,
}, async (t) => {
  const { store, dir } = await tempStore(t);
  const random = seeded(2024);
  const networks = fillDataset(store, random);
  // rbldnsd started as root switches to its own user, which must be able to read the files.
  await chmod(dir, 0o755);
  for (const format of ['ip4trie', 'ip4set'] as const) {
    const file = path.join(dir, `${format}.txt`);
    await writeFile(file, exportRbldnsd(store.all(), format).text, { mode: 0o644 });
  }
  const port = await freeUdpPort();
  await startRbldnsd(t, dir, port, [
    'trie.trust.test:ip4trie:ip4trie.txt',
    'set.trust.test:ip4set:ip4set.txt',
  ]);
  const ours = await startTrustListServer({ store, zone: 'trust.test', port: 0, pollMs: 0 });
  t.after(() => ours.close());

  const addresses = ['127.0.0.2', '127.0.0.1'];
  while (addresses.length < ADDRESSES) {
    const pick = (random() % (networks.length / 2)) * 2;
    const [start = 0, size = 1] = [networks[pick], networks[pick + 1]];
    // Inside a listed network, at its edges, just outside it, or anywhere nearby.
    const inside = start + (random() % size);
    const choices = [
      inside,
      start,
      start + size - 1,
      start + size,
      start - 1,
      (10 * 2 ** 24 + (random() % 2 ** 26)) >>> 0,
    ];
    addresses.push(dotted((choices[random() % choices.length] ?? inside) >>> 0));
  }
  const questions = (zone: string) =>
    addresses.flatMap((address) => [
      { name: dnsxlName(address, zone), type: 'A' as const },
      { name: dnsxlName(address, zone), type: 'TXT' as const },
    ]);
  const [mine, trie, set] = await Promise.all([
    askAll(ours.port, questions('trust.test')),
    askAll(port, questions('trie.trust.test')),
    askAll(port, questions('set.trust.test')),
  ]);
  const differences: string[] = [];
  let listed = 0;
  mine.forEach((outcome, i) => {
    if (outcome.a.length > 0) listed++;
    for (const [name, theirs] of [
      ['ip4trie', trie[i]],
      ['ip4set', set[i]],
    ] as const) {
      if (JSON.stringify(theirs) !== JSON.stringify(outcome) && differences.length < 10) {
        const question = questions('trust.test')[i];
        differences.push(
          `${question?.name} ${question?.type}: outpost ${JSON.stringify(outcome)}, ${name} ${JSON.stringify(theirs)}`,
        );
      }
    }
  });
  assert.deepEqual(differences, []);
  // The comparison means something only if both listed and unlisted addresses were asked.
  assert.ok(listed > ADDRESSES / 10 && listed < ADDRESSES * 0.9, `listed ${listed} of ${ADDRESSES}`);
  assert.ok(mine.some((outcome) => outcome.rcode === 3));
  assert.ok(
    mine.some((outcome) =>
      outcome.txt.some((text) => text.startsWith('Listed by trust.test, see https://trust.test/q?10.')),
    ),
  );
});

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { decode, encode } from 'dns-packet';
import { dnsxlName } from '../../../src/checks/dnsbl/dnsxl.js';
import { selftest } from '../../../src/checks/rttl/index.js';
import { frameMessage } from '../../../src/dns/framing.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { startTrustListServer, type TrustListServer } from '../../../src/trustlist/serve.js';
import { TrustListStore } from '../../../src/trustlist/store.js';
import { runConfiguredCheck } from '../checks/run-check.js';
import { fillVariedList, tempStore } from './fixtures.js';

const ZONE = 'trust.test';

function resolverFor(server: TrustListServer) {
  return createResolver({ servers: [`127.0.0.1:${server.port}`], timeoutMs: 1000, tries: 2, cacheSize: 0 });
}

/** Asks until `accept` likes the answer (bounded), for changes that arrive asynchronously. */
async function eventually(
  ask: () => Promise<string[]>,
  accept: (answer: string[]) => boolean,
): Promise<string[]> {
  let answer: string[] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    answer = await ask();
    if (accept(answer)) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return answer;
}

const listed = (resolver: ReturnType<typeof createResolver>, ip: string) => () =>
  resolver.resolve4(dnsxlName(ip, ZONE)).catch(() => [] as string[]);

test('the RFC 5782 test points answer, and the receiving rttl check trusts a listed client', async (t) => {
  const { store } = await tempStore(t);
  fillVariedList(store);
  const server = await startTrustListServer({ store, zone: ZONE, port: 0 });
  t.after(() => server.close());
  const resolver = resolverFor(server);
  assert.deepEqual(await selftest(resolver, ZONE, { ipv6: true }), { zone: ZONE, ok: true, problems: [] });
  const { result } = await runConfiguredCheck(
    { resolver },
    'connect',
    { use: 'rttl', lists: [ZONE] },
    { clientIp: '192.0.2.10' },
  );
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.props, {
    'dns.zone': ZONE,
    'policy.ip': '127.0.3.2',
    'policy.txt': 'Example ESP',
    'dns.sec': 'na',
  });
  const delisted = await runConfiguredCheck(
    { resolver },
    'connect',
    { use: 'rttl', lists: [ZONE] },
    { clientIp: '198.51.100.7' },
  );
  assert.equal(delisted.result.result, 'none');
});

test('changes through the store are served at once, without a restart', async (t) => {
  const { store } = await tempStore(t);
  const server = await startTrustListServer({ store, zone: ZONE, port: 0, pollMs: 0 });
  t.after(() => server.close());
  const resolver = resolverFor(server);
  assert.deepEqual(await listed(resolver, '203.0.113.9')(), []);
  const serial = server.serial();
  store.add({ network: '203.0.113.0/24', category: 4, trust: 3 }, 'op');
  assert.deepEqual(await eventually(listed(resolver, '203.0.113.9'), (a) => a.length > 0), ['127.0.4.3']);
  assert.ok(server.serial() > serial);
  store.remove('203.0.113.0/24', 'compromised', 'op');
  assert.deepEqual(await eventually(listed(resolver, '203.0.113.9'), (a) => a.length === 0), []);
  const txt = await resolver.resolveTxt(dnsxlName('203.0.113.9', ZONE));
  assert.match(txt[0]?.join('') ?? '', /^Delisted \d{4}-\d\d-\d\d: compromised$/);
});

test('changes by another process are picked up by polling; SIGHUP-style reload works too', async (t) => {
  const { store, dir } = await tempStore(t);
  const server = await startTrustListServer({ store, zone: ZONE, port: 0, pollMs: 20 });
  t.after(() => server.close());
  const other = TrustListStore.open(path.join(dir, 'trustlist.db'));
  t.after(() => other.close());
  const resolver = resolverFor(server);
  other.add({ network: '198.51.100.0/24', category: 6, trust: 1 }, 'cli');
  assert.deepEqual(await eventually(listed(resolver, '198.51.100.1'), (a) => a.length > 0), ['127.0.6.1']);
  const quiet = await startTrustListServer({ store, zone: 'quiet.test', port: 0, pollMs: 0 });
  t.after(() => quiet.close());
  other.add({ network: '198.51.101.0/24', category: 6, trust: 2 }, 'cli');
  quiet.reload();
  assert.deepEqual(await resolverFor(quiet).resolve4(dnsxlName('198.51.101.1', 'quiet.test')), ['127.0.6.2']);
});

test('TCP answers through the general path; UDP stats tell the paths apart', async (t) => {
  const { store } = await tempStore(t);
  fillVariedList(store);
  const server = await startTrustListServer({ store, zone: ZONE, port: 0, pollMs: 0 });
  t.after(() => server.close());
  const query = encode({
    type: 'query',
    id: 7,
    questions: [{ name: dnsxlName('10.1.2.3', ZONE), type: 'TXT' }],
  });
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write(frameMessage(query)));
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        socket.end();
        resolve(data.subarray(2));
      }
    });
    socket.on('error', reject);
  });
  const txt = decode(answer).answers?.[0];
  assert.ok(txt?.type === 'TXT');
  assert.equal((txt.data as Buffer[])[0]?.toString(), 'Dollar $ sign and address 10.1.2.3 here');
  const resolver = resolverFor(server);
  await resolver.resolve4(dnsxlName('10.1.2.3', ZONE));
  await resolver.resolve(ZONE, 'SOA');
  assert.deepEqual(server.stats(), { udpFast: 1, udpGeneral: 1, tcpQueries: 1 });
});

test('with a UDP worker process both answer, and both follow changes', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 1 }, 'op');
  const server = await startTrustListServer({ store, zone: ZONE, port: 0, pollMs: 0, udpWorkers: 1 });
  t.after(() => server.close());
  const resolver = resolverFor(server);
  let sent = 0;
  const many = async () => {
    sent += 40;
    const answers = await Promise.all(Array.from({ length: 40 }, () => listed(resolver, '192.0.2.1')()));
    return [...new Set(answers.map((a) => a.join(',')))];
  };
  assert.deepEqual(await eventually(many, (a) => a.length === 1 && a[0] === '127.0.3.1'), ['127.0.3.1']);
  store.update('192.0.2.0/24', { trust: 3 }, 'op');
  assert.deepEqual(await eventually(many, (a) => a.length === 1 && a[0] === '127.0.3.3'), ['127.0.3.3']);
  // The worker answers some: the main process does not see every query.
  await eventually(many, () => server.stats().udpFast < sent);
  assert.ok(server.stats().udpFast < sent, `main process answered ${server.stats().udpFast} of ${sent}`);
});

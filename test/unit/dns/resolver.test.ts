import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResolver } from '../../../src/dns/resolver.js';
import { isNoRecords } from '../../../src/dns/types.js';
import { startTestDns } from '../../helpers/dns.js';

const ZONE = `
  $ORIGIN example.test.
  @ SOA ns hostmaster 1 3600 600 86400 5
  @ MX 10 mx
    MX 20 backup.example.test.
  mx 600 A 127.0.0.2
     AAAA 2001:db8::2
  backup A 127.0.0.3
  _rmx TXT "ip4:127.0.0.0/8" "-all"
  _im2000._tcp SRV 1 5 8443 po.example.test.
  www CNAME mx
  zero 0 A 127.0.0.4
  host\\:25 A 127.0.0.5
  50% A 127.0.0.6
  space\\032name A 127.0.0.7
  long TXT "${'k'.repeat(600)}"
  ${Array.from({ length: 30 }, (_, i) => `big TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`).join('\n  ')}
  loop1 CNAME loop2
  loop2 CNAME loop1
  c1 CNAME c2
  c2 CNAME c3
  c3 CNAME c4
  c4 A 127.0.0.8
  nullmx MX 0 .
  $ORIGIN 2.0.192.in-addr.arpa.
  1 PTR mx.example.test.
  $ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
  2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mx.example.test.
`;

test('every record type comes back in node dns.promises shapes', async (t) => {
  const { resolver } = await startTestDns(t, ZONE);
  assert.deepEqual(await resolver.resolveMx('example.test'), [
    { exchange: 'mx.example.test', priority: 10 },
    { exchange: 'backup.example.test', priority: 20 },
  ]);
  assert.deepEqual(await resolver.resolve4('mx.example.test'), ['127.0.0.2']);
  assert.deepEqual(await resolver.resolve6('mx.example.test'), ['2001:db8::2']);
  assert.deepEqual(await resolver.resolveTxt('_rmx.example.test'), [['ip4:127.0.0.0/8', '-all']]);
  assert.deepEqual(await resolver.resolveSrv('_im2000._tcp.example.test'), [
    { name: 'po.example.test', port: 8443, priority: 1, weight: 5 },
  ]);
  assert.deepEqual(await resolver.resolveCname('www.example.test'), ['mx.example.test']);
  assert.deepEqual(await resolver.resolvePtr('1.2.0.192.in-addr.arpa'), ['mx.example.test']);
  assert.deepEqual(await resolver.reverse('192.0.2.1'), ['mx.example.test']);
  assert.deepEqual(await resolver.reverse('2001:db8::2'), ['mx.example.test']);
  assert.deepEqual(await resolver.resolveMx('nullmx.example.test'), [{ exchange: '', priority: 0 }]);
  // Methods are bound: libraries such as mailauth take `resolver.resolve` on its own.
  const { resolve } = resolver;
  assert.deepEqual(await resolve('www.example.test', 'A'), ['127.0.0.2']);
});

test('names node refuses (":", "%", spaces) resolve; malformed names are EBADNAME', async (t) => {
  const { resolver } = await startTestDns(t, ZONE);
  assert.deepEqual(await resolver.resolve4('host:25.example.test'), ['127.0.0.5']);
  assert.deepEqual(await resolver.resolve4('50%.example.test'), ['127.0.0.6']);
  assert.deepEqual(await resolver.resolve4('space name.example.test'), ['127.0.0.7']);
  await assert.rejects(resolver.resolve4('a..example.test'), {
    code: 'EBADNAME',
    hostname: 'a..example.test',
  });
  await assert.rejects(resolver.resolve4(`${'x'.repeat(64)}.test`), { code: 'EBADNAME' });
  await assert.rejects(resolver.reverse('not-an-ip'), { code: 'EBADNAME', syscall: 'getHostByAddr' });
});

test('NXDOMAIN is ENOTFOUND, NODATA is ENODATA, outside the zones EREFUSED; errors look like node', async (t) => {
  const { resolver } = await startTestDns(t, ZONE);
  await assert.rejects(resolver.resolve4('nope.example.test'), (error: unknown) => {
    assert.ok(isNoRecords(error));
    assert.equal((error as Error).message, 'queryA ENOTFOUND nope.example.test');
    return true;
  });
  await assert.rejects(resolver.resolveMx('mx.example.test'), { code: 'ENODATA', syscall: 'queryMx' });
  await assert.rejects(resolver.resolveTxt('example.org'), { code: 'EREFUSED', hostname: 'example.org' });
  // Negative answers carry no stack trace (they are expected outcomes); the limit is put back.
  const limit = Error.stackTraceLimit;
  await assert.rejects(resolver.resolveMx('mx.example.test'), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.equal(error.stack, 'DnsError: queryMx ENODATA mx.example.test');
    return true;
  });
  assert.equal(Error.stackTraceLimit, limit);
});

test('a truncated UDP answer is fetched again over TCP', async (t) => {
  const { resolver, server } = await startTestDns(t, ZONE);
  const records = await resolver.resolveTxt('big.example.test');
  assert.equal(records.length, 30);
  assert.deepEqual(records.map((strings) => strings[0]?.slice(0, 2)).sort(), [
    ...Array.from({ length: 30 }, (_, i) => String(i).padStart(2, '0')),
  ]);
  assert.deepEqual(server.stats(), { udpQueries: 1, tcpQueries: 1, malformed: 0 });
});

test('a long TXT string arrives as 255-byte character-strings that join back', async (t) => {
  const { resolver } = await startTestDns(t, ZONE);
  const [strings = []] = await resolver.resolveTxt('long.example.test');
  assert.deepEqual(
    strings.map((part) => part.length),
    [255, 255, 90],
  );
  assert.equal(strings.join(''), 'k'.repeat(600));
});

test('answers are cached for their TTL (the smallest along a CNAME chain); TTL 0 is not cached', async (t) => {
  const { server, serverAddress } = await startTestDns(t, ZONE);
  let clock = 1_000_000;
  const resolver = createResolver({ servers: [serverAddress], now: () => clock });
  await resolver.resolve4('mx.example.test');
  await resolver.resolve4('mx.example.test');
  assert.equal(server.stats().udpQueries, 1);
  assert.deepEqual(resolver.stats(), { hits: 1, misses: 1, queries: 1, entries: 1 });

  clock += 599_000;
  await resolver.resolve4('mx.example.test');
  assert.equal(server.stats().udpQueries, 1, 'still fresh just before 600 s');
  clock += 2_000;
  await resolver.resolve4('mx.example.test');
  assert.equal(server.stats().udpQueries, 2, 'asked again after the TTL');

  await resolver.resolve4('www.example.test'); // CNAME 300 s -> A 600 s: cached for 300 s
  clock += 301_000;
  await resolver.resolve4('www.example.test');
  assert.equal(server.stats().udpQueries, 4);

  await resolver.resolve4('zero.example.test');
  await resolver.resolve4('zero.example.test');
  assert.equal(server.stats().udpQueries, 6);
});

test('negative answers are cached for the SOA minimum', async (t) => {
  const { server, serverAddress } = await startTestDns(t, ZONE);
  let clock = 0;
  const resolver = createResolver({ servers: [serverAddress], now: () => clock });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(resolver.resolve4('nope.example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolveMx('mx.example.test'), { code: 'ENODATA' });
  }
  assert.equal(server.stats().udpQueries, 2);
  clock += 4_000;
  await assert.rejects(resolver.resolve4('nope.example.test'), { code: 'ENOTFOUND' });
  assert.equal(server.stats().udpQueries, 2);
  clock += 2_000;
  await assert.rejects(resolver.resolve4('nope.example.test'), { code: 'ENOTFOUND' });
  assert.equal(server.stats().udpQueries, 3);
});

test('concurrent identical lookups share one query', async (t) => {
  const { resolver, server } = await startTestDns(t, ZONE);
  const answers = await Promise.all(Array.from({ length: 5 }, () => resolver.resolveMx('example.test')));
  assert.equal(new Set(answers.map((answer) => JSON.stringify(answer))).size, 1);
  assert.equal(server.stats().udpQueries, 1);
  assert.deepEqual(resolver.stats(), { hits: 0, misses: 5, queries: 1, entries: 1 });
});

test('CNAME chains are followed up to maxCnameChain; loops fail with ESERVFAIL', async (t) => {
  const { serverAddress } = await startTestDns(t, ZONE);
  const strict = createResolver({ servers: [serverAddress], maxCnameChain: 2 });
  const lenient = createResolver({ servers: [serverAddress], maxCnameChain: 3 });
  assert.deepEqual(await lenient.resolve4('c1.example.test'), ['127.0.0.8']);
  await assert.rejects(strict.resolve4('c1.example.test'), {
    code: 'ESERVFAIL',
    hostname: 'c1.example.test',
  });
  await assert.rejects(lenient.resolve4('loop1.example.test'), { code: 'ESERVFAIL' });
});

test('a budgeted view counts only uncached lookups and shares the cache', async (t) => {
  const { resolver } = await startTestDns(t, ZONE);
  await resolver.resolve4('mx.example.test');
  const message = resolver.withBudget(2);
  assert.deepEqual(await message.resolve4('mx.example.test'), ['127.0.0.2']); // cached: free
  await message.resolve4('backup.example.test');
  await assert.rejects(message.resolveMx('nope.example.test'), { code: 'ENOTFOUND' });
  await assert.rejects(message.resolve4('www.example.test'), {
    code: 'EBUDGET',
    hostname: 'www.example.test',
  });
  assert.deepEqual(await message.resolve4('backup.example.test'), ['127.0.0.3'], 'cached answers stay free');
  // The next message has its own budget, and finds what the first one looked up in the cache.
  const next = resolver.withBudget(0);
  assert.deepEqual(await next.resolve4('backup.example.test'), ['127.0.0.3']);
  await assert.rejects(next.resolve6('backup.example.test'), { code: 'EBUDGET' });
});

test('the cache is bounded (least recently used goes first) and clear() forgets', async (t) => {
  const { server, serverAddress } = await startTestDns(t, ZONE);
  const resolver = createResolver({ servers: [serverAddress], cacheSize: 2 });
  await resolver.resolve4('mx.example.test');
  await resolver.resolve4('backup.example.test');
  await resolver.resolve4('mx.example.test'); // mx is now the most recent
  await resolver.resolve6('mx.example.test'); // evicts backup
  assert.equal(resolver.stats().entries, 2);
  await resolver.resolve4('mx.example.test');
  assert.equal(server.stats().udpQueries, 3);
  await resolver.resolve4('backup.example.test');
  assert.equal(server.stats().udpQueries, 4);
  resolver.clear();
  assert.deepEqual(resolver.stats(), { hits: 0, misses: 0, queries: 0, entries: 0 });
  await resolver.resolve4('backup.example.test');
  assert.equal(server.stats().udpQueries, 5);
});

test('bad options are refused at creation', () => {
  assert.throws(() => createResolver({ servers: ['dns.example'] }), /not an IP address/);
  assert.throws(() => createResolver({ servers: [] }), /must not be empty/);
  assert.throws(() => createResolver({ servers: ['127.0.0.1'], tries: 0 }), /tries must be an integer >= 1/);
});

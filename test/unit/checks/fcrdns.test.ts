import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { createResolver } from '../../../src/dns/resolver.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

const manyNames = Array.from({ length: 10 }, (_, i) => `  20 PTR decoy${i}.sender.test.`).join('\n');

const ZONES = `
  $ORIGIN 2.0.192.in-addr.arpa.
  10 PTR mail.sender.test.
  11 PTR other.sender.test.
     PTR gone.sender.test.
  13 PTR lost.elsewhere.test.
  14 PTR lost.elsewhere.test.
     PTR Mail.Sender.Test.
${manyNames}
  20 PTR late.sender.test.
  $ORIGIN 0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
  5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mail6.sender.test.
  $ORIGIN sender.test.
  mail A 192.0.2.10
       A 192.0.2.14
  other A 192.0.2.200
  late A 192.0.2.20
  mail6 AAAA 2001:db8:1::25
`;

const fcrdns = { use: 'fcrdns' };

test('a PTR name that resolves back to the client passes as iprev, naming the confirmed host', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.10' });
  assert.equal(result.result, 'pass');
  assert.equal(result.method, 'iprev');
  assert.deepEqual(result.props, { 'policy.iprev': '192.0.2.10' });
  assert.deepEqual(result.details, { name: 'mail.sender.test' });
  assert.equal(
    formatAuthResults('mx.outpost.test', [['fcrdns', result]]),
    'Authentication-Results: mx.outpost.test;\r\n\tiprev=pass policy.iprev=192.0.2.10\r\n',
  );
});

test('IPv6 clients are confirmed through their ip6.arpa PTR and AAAA', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '2001:db8:1::25' });
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.details, { name: 'mail6.sender.test' });
});

test('PTR names that do not lead back (other address, no such name) fail', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.11' });
  assert.equal(result.result, 'fail');
  assert.match(result.reason ?? '', /192\.0\.2\.11/);
});

test('no PTR record is permerror, as RFC 8601 defines for iprev', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.12' });
  assert.equal(result.result, 'permerror');
  assert.equal(result.reason, 'No PTR record for [192.0.2.12]');
});

test('a forward lookup that fails while nothing matched is temperror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.13' });
  assert.equal(result.result, 'temperror');
  assert.equal(result.method, 'iprev');
});

test('a failed forward lookup does not matter when another name matches (names compared case-blind)', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.14' });
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.details, { name: 'mail.sender.test' });
});

test('only the first ten PTR names are followed', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', fcrdns, { clientIp: '192.0.2.20' });
  assert.equal(result.result, 'fail');
});

test('a DNS server that does not answer makes the check temperror', async (t) => {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => socket.close()); // bound but never answering: every query times out
  const silent = createResolver({ servers: [`127.0.0.1:${socket.address().port}`], timeoutMs: 50, tries: 1 });
  const { result, outcome } = await runConfiguredCheck({ resolver: silent }, 'connect', fcrdns, {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'temperror');
  assert.match(outcome.decisions[0]?.detail ?? '', /ETIMEOUT/);
});

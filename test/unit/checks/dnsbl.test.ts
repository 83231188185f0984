import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsxlName } from '../../../src/checks/dnsbl/dnsxl.js';
import { selftest } from '../../../src/checks/dnsbl/index.js';
import { formatReply } from '../../../src/core/reply.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

const ZONES = `
  $ORIGIN bl.test.
  2.0.0.127 A 127.0.0.2
  2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 A 127.0.0.2
  10.2.0.192 A 127.0.0.2
  11.2.0.192 A 127.0.0.4
  12.2.0.192 A 127.0.0.10
  13.2.0.192 A 127.255.255.254
  14.2.0.192 A 10.0.0.1
  5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2 A 127.0.0.2
  $ORIGIN other.test.
  2.0.0.127 A 127.0.0.2
  10.2.0.192 A 127.0.0.3
  $ORIGIN blocked.test.
  2.0.0.127 A 127.255.255.254
  10.2.0.192 A 127.255.255.254
  11.2.0.192 A 127.255.255.254
  $ORIGIN wildcard.test.
  1.0.0.127 A 127.0.0.2
`;

const dnsbl = (options: Record<string, unknown>) => ({ use: 'dnsbl', ...options });

test('query names are RFC 5782: reversed octets or 32 reversed nibbles, then the zone', () => {
  assert.equal(dnsxlName('192.0.2.10', 'BL.test.'), '10.2.0.192.bl.test');
  assert.equal(
    dnsxlName('2001:db8:1::25', 'bl.test'),
    '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test',
  );
});

test('a listed client fails, the reason names the list and code, and it is refused at the greeting', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['bl.test'] }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Your IP [192.0.2.10] is listed by bl.test (127.0.0.2)');
  assert.deepEqual(result.props, { 'dns.zone': 'bl.test' });
  const reply = stageReply(outcome);
  assert.ok(reply);
  assert.equal(formatReply(reply), '554 5.7.1 Your IP [192.0.2.10] is listed by bl.test (127.0.0.2)\r\n');
});

test('an unlisted client passes', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['bl.test'] }), {
    clientIp: '192.0.2.99',
  });
  assert.equal(result.result, 'pass');
  assert.equal(outcome.action, 'accept');
});

test('IPv6 clients are looked up by nibbles', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['bl.test'] }), {
    clientIp: '2001:db8:1::25',
  });
  assert.equal(result.result, 'fail');
});

test('return-code filters: only listed codes and ranges count', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const lists = [{ zone: 'bl.test', codes: ['127.0.0.2', '127.0.0.4-127.0.0.7'] }];
  const expected: Array<[string, string]> = [
    ['192.0.2.10', 'fail'],
    ['192.0.2.11', 'fail'],
    ['192.0.2.12', 'pass'],
  ];
  for (const [clientIp, verdict] of expected) {
    const { result } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists }), { clientIp });
    assert.equal(result.result, verdict, clientIp);
  }
});

test('weights add up against the threshold; below it a listing is neutral', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const options = dnsbl({ lists: ['bl.test', { zone: 'other.test', weight: 1 }], threshold: 2 });
  const both = await runConfiguredCheck(dns, 'connect', options, { clientIp: '192.0.2.10' });
  assert.equal(both.result.result, 'fail');
  assert.deepEqual(both.result.props, { 'dns.zone': 'bl.test other.test' });
  const one = await runConfiguredCheck(dns, 'connect', options, { clientIp: '192.0.2.11' });
  assert.equal(one.result.result, 'neutral');
  assert.equal(one.outcome.action, 'accept');
});

test('127.255.255.x is a list error, never a listing: temperror when it could decide', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['bl.test'] }), {
    clientIp: '192.0.2.13',
  });
  assert.equal(result.result, 'temperror');
  assert.match(result.details?.errors ?? '', /bl\.test: list error code 127\.255\.255\.254/);
  assert.equal(outcome.action, 'defer');
});

test('an answer outside 127.0.0.0/8 (a parked or hijacked zone) is a list error too', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['bl.test'] }), {
    clientIp: '192.0.2.14',
  });
  assert.equal(result.result, 'temperror');
  assert.match(result.details?.errors ?? '', /outside 127\.0\.0\.0\/8/);
});

test('a list error that cannot change the verdict does not hold it up', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const lists = [
    { zone: 'bl.test', weight: 2 },
    { zone: 'blocked.test', weight: 0.5 },
  ];
  const listed = await runConfiguredCheck(dns, 'connect', dnsbl({ lists, threshold: 2 }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(listed.result.result, 'fail');
  const short = await runConfiguredCheck(dns, 'connect', dnsbl({ lists, threshold: 3 }), {
    clientIp: '192.0.2.11',
  });
  assert.equal(short.result.result, 'neutral');
  assert.match(short.result.details?.errors ?? '', /blocked\.test/);
});

test('a list the DNS refuses is temperror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', dnsbl({ lists: ['unserved.test'] }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'temperror');
  assert.match(result.details?.errors ?? '', /EREFUSED/);
});

test('bad configuration is refused with the key path', () => {
  assert.throws(
    () => compileChecks([dnsbl({ lists: [{ zone: 'x', codes: ['127.0.0.9-127.0.0.3'] }] })]),
    /checks\[0\]\.lists\.0\.codes\.0: expected "127\.0\.0\.2" or "127\.0\.0\.4-127\.0\.0\.7"/,
  );
  assert.throws(
    () => compileChecks([dnsbl({ lists: [{ zone: 'x', wieght: 2 }] })]),
    /checks\[0\]\.lists\.0: .*wieght/,
  );
  assert.throws(() => compileChecks([dnsbl({})]), /checks\[0\]\.lists: /);
});

test('RFC 5782 self-test: a healthy list passes, with IPv6 test points too', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  assert.deepEqual(await selftest(resolver, 'bl.test', { ipv6: true }), {
    zone: 'bl.test',
    ok: true,
    problems: [],
  });
});

test('RFC 5782 self-test: missing, refused, wildcard and blocked lists are reported', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const wildcard = await selftest(resolver, 'wildcard.test');
  assert.equal(wildcard.ok, false);
  assert.deepEqual(wildcard.problems, [
    'test point 127.0.0.2 must be listed, got no answer',
    'test point 127.0.0.1 must not be listed, got answer 127.0.0.2',
  ]);
  const blocked = await selftest(resolver, 'blocked.test');
  assert.deepEqual(blocked.problems, ['test point 127.0.0.2 must be listed, got answer 127.255.255.254']);
  const unserved = await selftest(resolver, 'unserved.test');
  assert.equal(unserved.problems.length, 2);
  assert.match(unserved.problems[0] ?? '', /lookup failed: .*EREFUSED/);
  const noIpv6 = await selftest(resolver, 'other.test', { ipv6: true });
  assert.deepEqual(noIpv6.problems, ['test point ::ffff:7f00:2 must be listed, got no answer']);
});

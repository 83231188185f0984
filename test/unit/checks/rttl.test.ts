import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTrustAnswer } from '../../../src/checks/rttl/answer.js';
import { selftest } from '../../../src/checks/rttl/index.js';
import { formatReply } from '../../../src/core/reply.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

const ZONES = `
  $ORIGIN trust.test.
  2.0.0.127 A 127.0.0.2
  10.2.0.192 A 127.0.3.2
             TXT "Example ESP; complaints: https://trust.test/c"
  11.2.0.192 A 127.0.5.1
  12.2.0.192 A 127.0.0.255
  13.2.0.192 A 127.0.1.3
  5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2 A 127.0.6.3
  $ORIGIN second.test.
  2.0.0.127 A 127.0.0.2
  10.2.0.192 A 127.0.3.3
  11.2.0.192 A 127.0.5.2
  $ORIGIN blockedlist.test.
  2.0.0.127 A 127.0.0.255
  10.2.0.192 A 127.0.0.255
`;

const rttl = (options: Record<string, unknown>) => ({ use: 'rttl', ...options });

test('trust answers decode as 127.0.<category>.<trust>; 127.0.0.255 is "blocked"', () => {
  assert.deepEqual(decodeTrustAnswer('127.0.3.2'), {
    kind: 'listed',
    address: '127.0.3.2',
    category: 3,
    trust: 2,
  });
  assert.deepEqual(decodeTrustAnswer('127.0.0.255'), { kind: 'blocked', address: '127.0.0.255' });
  for (const invalid of ['127.0.1.3', '127.0.16.0', '127.0.3.4', '127.1.3.2', '10.0.3.2']) {
    assert.equal(decodeTrustAnswer(invalid).kind, 'invalid', invalid);
  }
});

test('a listed client passes with the RFC 8904 dnswl properties', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['trust.test'] }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'pass');
  assert.equal(result.method, 'dnswl');
  assert.equal(result.reason, 'Listed by trust.test: category 3 (email service provider), trust 2 (medium)');
  assert.deepEqual(result.props, {
    'dns.zone': 'trust.test',
    'policy.ip': '127.0.3.2',
    'policy.txt': 'Example ESP; complaints: https://trust.test/c',
    'dns.sec': 'na',
  });
  assert.equal(outcome.action, 'accept');
  assert.equal(
    formatAuthResults('mx.outpost.test', outcome.results),
    [
      'Authentication-Results: mx.outpost.test;',
      '\tdnswl=pass',
      '\t  reason="Listed by trust.test: category 3 (email service provider), trust 2 (medium)"',
      '\t  dns.zone=trust.test policy.ip=127.0.3.2',
      '\t  policy.txt="Example ESP; complaints: https://trust.test/c" dns.sec=na',
      '',
    ].join('\r\n'),
  );
});

test('an unlisted client is none, refused at the greeting by default so the sender tries the next MX', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['trust.test'] }), {
    clientIp: '192.0.2.99',
  });
  assert.equal(result.result, 'none');
  assert.deepEqual(result.props, { 'dns.zone': 'trust.test', 'dns.sec': 'na' });
  const reply = stageReply(outcome);
  assert.ok(reply);
  assert.equal(
    formatReply(reply),
    '554 5.7.1 Your IP [192.0.2.99] is not on a trust list (trust.test: not listed)\r\n',
  );
});

test('a listing below min_trust does not count', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const lists = [{ zone: 'trust.test', min_trust: 2 }];
  const low = await runConfiguredCheck(dns, 'connect', rttl({ lists }), { clientIp: '192.0.2.11' });
  assert.equal(low.result.result, 'none');
  assert.match(low.result.reason ?? '', /trust\.test: listed with trust 1, below the minimum 2/);
  const enough = await runConfiguredCheck(dns, 'connect', rttl({ lists }), { clientIp: '192.0.2.10' });
  assert.equal(enough.result.result, 'pass');
});

test('127.0.0.255 (querier blocked) is never a listing: temperror when the list could decide', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['trust.test'] }), {
    clientIp: '192.0.2.12',
  });
  assert.equal(result.result, 'temperror');
  assert.equal(result.reason, 'Trust list trust.test blocks our queries (127.0.0.255)');
  assert.equal(outcome.action, 'defer');
  assert.equal(stageReply(outcome)?.code, 421);
});

test('a blocked list that cannot reach the threshold leaves none, and the reason says it is blocked', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const lists = [
    { zone: 'trust.test', weight: 2, min_trust: 3 },
    { zone: 'blockedlist.test', weight: 0.5 },
  ];
  const { result } = await runConfiguredCheck(dns, 'connect', rttl({ lists, threshold: 2 }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'none');
  assert.match(result.reason ?? '', /blockedlist\.test: blocks our queries \(127\.0\.0\.255\)/);
});

test('a pass is not held up by a blocked list; each list gets its own dnswl entry', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(
    dns,
    'connect',
    rttl({ lists: ['blockedlist.test', 'trust.test'] }),
    {
      clientIp: '192.0.2.10',
    },
  );
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['dns.zone'], 'trust.test');
  assert.deepEqual(result.more, [
    { result: 'temperror', props: { 'dns.zone': 'blockedlist.test', 'dns.sec': 'na' } },
  ]);
});

test('weights add up to the threshold; the most trusting list leads', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const options = rttl({ lists: ['trust.test', 'second.test'], threshold: 2 });
  const both = await runConfiguredCheck(dns, 'connect', options, { clientIp: '192.0.2.10' });
  assert.equal(both.result.result, 'pass');
  assert.equal(both.result.props?.['dns.zone'], 'second.test');
  assert.equal(both.result.props?.['policy.ip'], '127.0.3.3');
  assert.equal(both.result.more?.[0]?.props?.['dns.zone'], 'trust.test');
  assert.equal(both.result.more?.[0]?.result, 'pass');
  const one = await runConfiguredCheck(dns, 'connect', options, { clientIp: '2001:db8:1::25' });
  assert.equal(one.result.result, 'none');
});

test('IPv6 clients are looked up by nibbles', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['trust.test'] }), {
    clientIp: '2001:db8:1::25',
  });
  assert.equal(result.result, 'pass');
  assert.match(result.reason ?? '', /category 6 \(business\), trust 3 \(high\)/);
});

test('an answer that is not a trust code is not a listing', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['trust.test'] }), {
    clientIp: '192.0.2.13',
  });
  assert.equal(result.result, 'none');
  assert.match(result.reason ?? '', /answer 127\.0\.1\.3 is not a trust code/);
});

test('a list the DNS refuses is temperror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', rttl({ lists: ['unserved.test'] }), {
    clientIp: '192.0.2.10',
  });
  assert.equal(result.result, 'temperror');
  assert.match(result.reason ?? '', /Trust list unserved\.test could not be queried/);
});

test('RFC 5782 test points: 2.0.0.127 listed, 1.0.0.127 not; a blocked querier is reported', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  assert.deepEqual(await selftest(resolver, 'trust.test'), { zone: 'trust.test', ok: true, problems: [] });
  const blocked = await selftest(resolver, 'blockedlist.test');
  assert.deepEqual(blocked.problems, ['test point 127.0.0.2 must be listed, got answer 127.0.0.255']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReply } from '../../../src/core/reply.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

// 192.0.2.0/24 lists two exchanges; 198.51.100.0/24 has a reverse zone but no MX; 203.0.113.0/24 is
// served by nobody (our server refuses it); 2001:db8:1::/64 lists mx2 by its AAAA.
const ZONES = `
  $ORIGIN 2.0.192.in-addr.arpa.
  @ MX 10 mx1.sender.test.
  @ MX 20 mx2.sender.test.
  $ORIGIN 100.51.198.in-addr.arpa.
  @ TXT "no reverse mx here"
  7 PTR host.sender.test.
  $ORIGIN 0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
  @ MX 10 mx2.sender.test.
  $ORIGIN sender.test.
  mx1 A 192.0.2.25
  mx2 A 192.0.2.26
      AAAA 2001:db8:1::25
`;

const reverseMx = (options: Record<string, unknown> = {}) => ({ use: 'reverse-mx', ...options });

test('a client that is one of its /24 exchanges passes', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', reverseMx(), {
    clientIp: '192.0.2.26',
  });
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.props, { 'policy.zone': '2.0.192.in-addr.arpa' });
  assert.equal(outcome.action, 'accept');
});

test('an IPv4-mapped client address is checked as IPv4', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', reverseMx(), { clientIp: '::ffff:192.0.2.25' });
  assert.equal(result.result, 'pass');
});

test('a client its network does not list fails with the Reverse MX reply text, rejected by default', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', reverseMx(), {
    clientIp: '192.0.2.99',
  });
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Your IP [192.0.2.99] is not listed in Reverse MX');
  assert.equal(outcome.action, 'reject');
  const delayed = stageReply(outcome, { atGreeting: false });
  assert.ok(delayed);
  assert.equal(formatReply(delayed), '550 5.7.1 Your IP [192.0.2.99] is not listed in Reverse MX\r\n');
});

test('a network without Reverse MX records is none, and accepted', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', reverseMx(), {
    clientIp: '198.51.100.7',
  });
  assert.equal(result.result, 'none');
  assert.equal(outcome.action, 'accept');
});

test('after the flag day a network without Reverse MX records fails, and the reason says why', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', reverseMx({ flag_day: true }), {
    clientIp: '198.51.100.7',
  });
  assert.equal(result.result, 'fail');
  assert.match(result.reason ?? '', /^Your IP \[198\.51\.100\.7\] is not listed in Reverse MX: .*flag day/);
  assert.match(result.reason ?? '', /100\.51\.198\.in-addr\.arpa publishes no Reverse MX records/);
  assert.equal(outcome.action, 'reject');
});

test('the flag day does not touch networks that do publish records', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', reverseMx({ flag_day: true }), {
    clientIp: '192.0.2.25',
  });
  assert.equal(result.result, 'pass');
});

test('IPv6 clients are looked up at their /64 nibble name', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const listed = await runConfiguredCheck(dns, 'connect', reverseMx(), { clientIp: '2001:db8:1::25' });
  assert.equal(listed.result.result, 'pass');
  assert.deepEqual(listed.result.props, { 'policy.zone': '0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa' });
  const unlisted = await runConfiguredCheck(dns, 'connect', reverseMx(), { clientIp: '2001:db8:1::99' });
  assert.equal(unlisted.result.result, 'fail');
  assert.equal(unlisted.result.reason, 'Your IP [2001:db8:1::99] is not listed in Reverse MX');
});

test('a lookup the DNS refuses is temperror and defers by default', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', reverseMx(), {
    clientIp: '203.0.113.5',
  });
  assert.equal(result.result, 'temperror');
  assert.equal(outcome.action, 'defer');
  assert.match(outcome.decisions[0]?.detail ?? '', /EREFUSED/);
});

test('configuration decides: fail can be made to quarantine instead of reject', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { outcome } = await runConfiguredCheck(dns, 'connect', reverseMx({ on: { fail: 'quarantine' } }), {
    clientIp: '192.0.2.99',
  });
  assert.equal(outcome.action, 'quarantine');
  assert.equal(stageReply(outcome), undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRmx } from '../../../src/checks/rmx/record.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

const elevenLookups = Array.from({ length: 11 }, (_, i) => `a:h${i}.many.test`).join(' ');

const ZONES = `
  $ORIGIN sender.test.
  _rmx TXT "ip4:192.0.2.0/28 ip6:2001:db8:1::/64 a:out.sender.test mx -all"
  @ MX 10 mx.sender.test.
  mx A 192.0.2.50
  out A 192.0.2.40
  $ORIGIN open.test.
  _rmx TXT "ip4:192.0.2.1 ?all"
  $ORIGIN noall.test.
  _rmx TXT "ip4:192.0.2.1"
  $ORIGIN plain.test.
  @ A 192.0.2.99
  $ORIGIN broken.test.
  _rmx TXT "ip4:300.1.1.1 -all"
  $ORIGIN order.test.
  _rmx TXT "-all ip4:192.0.2.1"
  $ORIGIN many.test.
  _rmx TXT "${elevenLookups} -all"
  $ORIGIN two.test.
  _rmx TXT "ip4:192.0.2.1 -all"
  _rmx TXT "?all"
  $ORIGIN refused.test.
  _rmx TXT "a:host.nowhere.test -all"
  $ORIGIN helo.test.
  _rmx TXT "a -all"
  @ A 192.0.2.77
`;

const rmx = { use: 'rmx' };

test('the record grammar: terms, a final all, and what is an error', () => {
  const parsed = parseRmx('ip4:192.0.2.0/24 ip6:2001:db8::/32 a a:x.test mx mx:y.test -all');
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.terms.map((term) => term.kind),
    ['ip', 'ip', 'a', 'a', 'mx', 'mx', 'all'],
  );
  assert.deepEqual(parseRmx('ip4:2001:db8::/32'), {
    ok: false,
    error: 'bad address block in "ip4:2001:db8::/32"',
  });
  assert.deepEqual(parseRmx('ip4:192.0.2.0/33'), {
    ok: false,
    error: 'bad address block in "ip4:192.0.2.0/33"',
  });
  assert.deepEqual(parseRmx('+all'), { ok: false, error: 'unknown term "+all"' });
  assert.deepEqual(parseRmx('a: -all'), { ok: false, error: 'bad host name in "a:"' });
  assert.deepEqual(parseRmx('   '), { ok: false, error: 'empty record' });
});

const passing: Array<[string, string]> = [
  ['ip4 block', '192.0.2.9'],
  ['ip6 block', '2001:db8:1::abcd'],
  ['a:host', '192.0.2.40'],
  ['mx of the domain', '192.0.2.50'],
];
for (const [term, clientIp] of passing) {
  test(`a client matched by ${term} passes`, async (t) => {
    const dns = await startTestDns(t, ZONES);
    const { result } = await runConfiguredCheck(dns, 'mail', rmx, {
      clientIp,
      mailFrom: 'alice@sender.test',
    });
    assert.equal(result.result, 'pass');
    assert.deepEqual(result.props, { 'smtp.mailfrom': 'sender.test' });
  });
}

test('a client the record does not list fails on -all and is refused with 550 5.7.1', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', rmx, {
    clientIp: '192.0.2.99',
    mailFrom: 'alice@Sender.Test',
  });
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Your IP [192.0.2.99] may not send mail for sender.test (RMX)');
  assert.deepEqual(stageReply(outcome), {
    code: 550,
    enhanced: '5.7.1',
    text: 'Your IP [192.0.2.99] may not send mail for sender.test (RMX)',
  });
});

test('?all and a record without all end neutral', async (t) => {
  const dns = await startTestDns(t, ZONES);
  for (const domain of ['open.test', 'noall.test']) {
    const { result } = await runConfiguredCheck(dns, 'mail', rmx, {
      clientIp: '192.0.2.99',
      mailFrom: `a@${domain}`,
    });
    assert.equal(result.result, 'neutral', domain);
  }
});

test('a domain without a record, or that does not exist, is none', async (t) => {
  const dns = await startTestDns(t, ZONES);
  for (const domain of ['plain.test', 'nothere.sender.test']) {
    const { result } = await runConfiguredCheck(dns, 'mail', rmx, {
      clientIp: '192.0.2.99',
      mailFrom: `a@${domain}`,
    });
    assert.equal(result.result, 'none', domain);
  }
});

test('bad syntax, all before the end, two records and too many lookups are permerror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const expected: Array<[string, RegExp]> = [
    ['broken.test', /bad address block in "ip4:300\.1\.1\.1"/],
    ['order.test', /"-all" must be the last term/],
    ['two.test', /More than one RMX record at _rmx\.two\.test/],
    ['many.test', /11 terms need DNS lookups, more than 10/],
  ];
  for (const [domain, reason] of expected) {
    const { result } = await runConfiguredCheck(dns, 'mail', rmx, {
      clientIp: '192.0.2.1',
      mailFrom: `a@${domain}`,
    });
    assert.equal(result.result, 'permerror', domain);
    assert.match(result.reason ?? '', reason);
  }
});

test('a term whose lookup the DNS refuses makes the check temperror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', rmx, {
    clientIp: '192.0.2.99',
    mailFrom: 'a@refused.test',
  });
  assert.equal(result.result, 'temperror');
  assert.equal(outcome.action, 'defer');
});

test('the null sender is checked by its HELO name; an address literal HELO is none', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const byHelo = await runConfiguredCheck(dns, 'mail', rmx, {
    clientIp: '192.0.2.77',
    mailFrom: '',
    helo: 'helo.test',
  });
  assert.equal(byHelo.result.result, 'pass');
  assert.deepEqual(byHelo.result.props, { 'smtp.helo': 'helo.test' });
  const other = await runConfiguredCheck(dns, 'mail', rmx, {
    clientIp: '192.0.2.78',
    mailFrom: '',
    helo: 'helo.test',
  });
  assert.equal(other.result.result, 'fail');
  const literal = await runConfiguredCheck(dns, 'mail', rmx, {
    clientIp: '192.0.2.77',
    mailFrom: '',
    helo: '[192.0.2.77]',
  });
  assert.equal(literal.result.result, 'none');
});

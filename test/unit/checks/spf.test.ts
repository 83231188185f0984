import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReply } from '../../../src/core/reply.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

// sender.test allows 192.0.2.0/28 and its MX; soft.test and open.test soften; broken.test has a
// syntax error; twice.test publishes two records; mail.relay.test is a HELO name with its own
// policy; nothing.test has no SPF record; refused.test is served by nobody (our server refuses it).
const ZONES = `
  $ORIGIN sender.test.
  @ TXT "v=spf1 ip4:192.0.2.0/28 mx -all exp=why.%{d}"
  @ MX 10 mx.sender.test.
  mx A 198.51.100.25
  why TXT "%{i} is not one of %{d}'s senders, see https://sender.test/spf"
  $ORIGIN local.test.
  @ TXT "v=spf1 exists:%{l}.users.local.test -all"
  alice.users A 127.0.0.2
  $ORIGIN soft.test.
  @ TXT "v=spf1 ip4:192.0.2.1 ~all"
  $ORIGIN open.test.
  @ TXT "v=spf1 ?all"
  $ORIGIN broken.test.
  @ TXT "v=spf1 ip4:192.0.2.300 -all"
  $ORIGIN twice.test.
  @ TXT "v=spf1 -all"
  @ TXT "v=spf1 +all"
  $ORIGIN relay.test.
  mail TXT "v=spf1 a -all"
  mail A 203.0.113.9
  $ORIGIN nothing.test.
  @ TXT "just some text"
  $ORIGIN include.test.
  @ TXT "v=spf1 include:refused.test -all"
`;

const spf = (options: Record<string, unknown> = {}) => ({
  use: 'spf',
  receiver: 'mx.outpost.test',
  ...options,
});

test('a listed client passes, reported with the MAIL FROM domain', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.7',
    helo: 'mail.relay.test',
    mailFrom: 'alice@sender.test',
  });
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.props, { 'smtp.mailfrom': 'sender.test' });
  assert.deepEqual(result.details, { identity: 'mailfrom', domain: 'sender.test' });
  assert.equal(outcome.action, 'accept');
  assert.equal(
    formatAuthResults('mx.outpost.test', [['spf', result]]),
    'Authentication-Results: mx.outpost.test;\r\n\tspf=pass smtp.mailfrom=sender.test\r\n',
  );
});

test('the mx mechanism matches the addresses of the domain exchanges', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '198.51.100.25',
    helo: 'mx.sender.test',
    mailFrom: 'bob@sender.test',
  });
  assert.equal(result.result, 'pass');
});

test('an unlisted client fails with the domain owner explanation as the reply, rejected by default', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '203.0.113.5',
    helo: 'mail.relay.test',
    mailFrom: 'alice@sender.test',
  });
  assert.equal(result.result, 'fail');
  const explanation = "203.0.113.5 is not one of sender.test's senders, see https://sender.test/spf";
  assert.equal(result.reason, explanation);
  assert.equal(result.details?.explanation, explanation);
  assert.equal(outcome.action, 'reject');
  const reply = stageReply(outcome);
  assert.ok(reply);
  assert.equal(formatReply(reply), `550 5.7.23 ${explanation}\r\n`);
});

test('without an explanation the reason names the domain and the client', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.99',
    helo: 'mail.relay.test',
    mailFrom: 'x@twice.test',
  });
  assert.equal(result.result, 'permerror', 'two records are a permanent error (RFC 7208 4.5)');
  const local = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.99',
    helo: 'mail.relay.test',
    mailFrom: 'mallory@local.test',
  });
  assert.equal(local.result.result, 'fail');
  assert.equal(local.result.reason, 'SPF: local.test does not designate 192.0.2.99 as a permitted sender');
  assert.equal(local.result.details?.explanation, undefined);
});

test('a policy that uses the local-part reports the whole address', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.99',
    helo: 'mail.relay.test',
    mailFrom: 'alice@local.test',
  });
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.props, { 'smtp.mailfrom': 'alice@local.test' });
});

test('softfail and neutral are reported and accepted', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const soft = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.2',
    helo: 'mail.relay.test',
    mailFrom: 'a@soft.test',
  });
  assert.equal(soft.result.result, 'softfail');
  assert.equal(soft.outcome.action, 'accept');
  const neutral = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.2',
    helo: 'mail.relay.test',
    mailFrom: 'a@open.test',
  });
  assert.equal(neutral.result.result, 'neutral');
  assert.equal(neutral.outcome.action, 'accept');
});

test('a domain without an SPF record is none', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '192.0.2.2',
    helo: 'mail.relay.test',
    mailFrom: 'a@nothing.test',
  });
  assert.equal(result.result, 'none');
  assert.equal(result.reason, undefined);
  assert.equal(outcome.action, 'accept');
});

test('a record with a syntax error is permerror with the X.7.24 code', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'mail', spf({ on: { permerror: 'reject' } }), {
    clientIp: '192.0.2.2',
    helo: 'mail.relay.test',
    mailFrom: 'a@broken.test',
  });
  assert.equal(result.result, 'permerror');
  const reply = stageReply(outcome);
  assert.ok(reply);
  assert.equal(formatReply(reply), '550 5.7.24 SPF: the policy of broken.test has a permanent error\r\n');
});

test('a lookup the DNS refuses is temperror and defers with 451 4.7.24', async (t) => {
  const dns = await startTestDns(t, ZONES);
  for (const mailFrom of ['a@refused.test', 'a@include.test']) {
    const { result, outcome } = await runConfiguredCheck(dns, 'mail', spf(), {
      clientIp: '192.0.2.2',
      helo: 'mail.relay.test',
      mailFrom,
    });
    assert.equal(result.result, 'temperror', mailFrom);
    assert.equal(outcome.action, 'defer');
    const reply = stageReply(outcome);
    assert.ok(reply);
    assert.match(
      formatReply(reply),
      /^451 4\.7\.24 SPF: the policy of (refused|include)\.test could not be checked now/,
    );
  }
});

test('the null sender is checked by its HELO name and reported as smtp.helo', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const listed = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '203.0.113.9',
    helo: 'mail.relay.test',
    mailFrom: '',
  });
  assert.equal(listed.result.result, 'pass');
  assert.deepEqual(listed.result.props, { 'smtp.helo': 'mail.relay.test' });
  assert.equal(listed.result.details?.identity, 'helo');
  const unlisted = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '203.0.113.10',
    helo: 'mail.relay.test',
    mailFrom: '',
  });
  assert.equal(unlisted.result.result, 'fail');
});

test('check_helo adds the HELO identity as a second entry', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'mail', spf({ check_helo: true }), {
    clientIp: '203.0.113.9',
    helo: 'mail.relay.test',
    mailFrom: 'alice@sender.test',
  });
  assert.equal(result.result, 'fail');
  assert.equal(result.more?.length, 1);
  assert.equal(result.more?.[0]?.result, 'pass');
  assert.deepEqual(result.more?.[0]?.props, { 'smtp.helo': 'mail.relay.test' });
  assert.match(
    formatAuthResults('mx.outpost.test', [['spf', result]]),
    /spf=fail\r\n.*smtp\.mailfrom=sender\.test;\r\n\tspf=pass smtp\.helo=mail\.relay\.test\r\n$/s,
  );
});

test('an IPv4-mapped client address is evaluated as IPv4', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'mail', spf(), {
    clientIp: '::ffff:192.0.2.3',
    helo: 'mail.relay.test',
    mailFrom: 'alice@sender.test',
  });
  assert.equal(result.result, 'pass');
});

test('unknown options are configuration errors', () => {
  assert.throws(() => compileChecks([spf({ strict: false })]), /checks\[0\]/);
});

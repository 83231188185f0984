import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { probeApplicant, recordProbe } from '../../../src/trustlist/probe.js';
import { startTestDns } from '../../helpers/dns.js';
import { tempStore } from './fixtures.js';

const ZONES = `
  $ORIGIN target.test.
  @        SOA  ns.target.test. hostmaster.target.test. 1 3600 600 86400 60
  mx       A    127.0.0.1
  s1._domainkey TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
  empty._domainkey TXT "v=DKIM1; p="
  @        MX   10 mx.target.test.
  $ORIGIN nomail.test.
  @        SOA  ns.nomail.test. hostmaster.nomail.test. 1 3600 600 86400 60
  @        MX   0 .
  $ORIGIN 0.0.127.in-addr.arpa.
  @        SOA  ns.target.test. hostmaster.target.test. 1 3600 600 86400 60
  1        PTR  mx.target.test.
  2        PTR  elsewhere.target.test.
`;

/** An applicant on loopback: a closed server accepts only plain local recipients of its domain. */
async function applicant(t: TestContext, open: boolean): Promise<number> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (open || /^[a-z0-9.]+@target\.test$/i.test(address.address)) return callback();
      const refusal = Object.assign(new Error('Relay access denied'), { responseCode: 554 });
      return callback(refusal);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as AddressInfo).port;
}

test('a closed server with reverse DNS, a key and a reachable contact passes, with evidence', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const port = await applicant(t, false);
  const result = await probeApplicant({
    host: '127.0.0.1',
    port,
    domain: 'target.test',
    selector: 's1',
    contact: 'abuse@target.test',
    resolver,
    timeoutMs: 2000,
  });
  const failed = result.checks.filter((check) => check.outcome !== 'pass');
  assert.deepEqual(failed, []);
  assert.equal(result.passed, true);
  assert.equal(result.checks.filter((check) => check.rule === 'no-open-relay').length, 7);
  assert.ok(result.transcript.includes('C: RCPT TO:<relaytest%relay-probe.invalid@target.test>'));
  assert.ok(result.transcript.some((line) => line.startsWith('S: 554')));
  assert.ok(!result.transcript.some((line) => line.startsWith('C: DATA')), 'a probe never sends DATA');
  assert.deepEqual(result.toAttest, ['no-viruses', 'no-bulk-mail']);

  const { store } = await tempStore(t);
  const recorded = recordProbe(store, result, 'operator');
  assert.equal(store.probes()[0]?.id, recorded.id);
  assert.deepEqual(store.probes()[0]?.transcript, result.transcript);
});

test('an open relay fails on every trick it accepts', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const port = await applicant(t, true);
  const result = await probeApplicant({
    host: '127.0.0.1',
    port,
    domain: 'target.test',
    selector: 's1',
    contact: 'abuse@target.test',
    resolver,
    timeoutMs: 2000,
  });
  assert.equal(result.passed, false);
  const relay = Object.fromEntries(
    result.checks
      .filter((check) => check.rule === 'no-open-relay')
      .map((check) => [check.test, check.outcome]),
  );
  assert.equal(relay['foreign recipient'], 'fail');
  assert.equal(relay['percent hack'], 'fail');
  assert.equal(relay['source route'], 'fail');
  // smtp-server refuses the syntax of these itself, which is what a probe wants to see.
  assert.equal(relay['bang path'], 'pass');
  assert.equal(relay["quoted local part with '@'"], 'pass');
});

test('missing reverse DNS, key or contact fail; an unreachable server is inconclusive', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const outcomes = async (options: { host: string; port: number; selector?: string; contact?: string }) => {
    const result = await probeApplicant({ ...options, domain: 'target.test', resolver, timeoutMs: 1000 });
    assert.equal(result.passed, false);
    return Object.fromEntries(
      result.checks
        .filter((check) => check.rule !== 'no-open-relay')
        .map((check) => [check.rule, `${check.outcome}: ${check.detail}`]),
    );
  };
  const closedPort = await applicant(t, false);
  const wrongPtr = await outcomes({
    host: '127.0.0.2',
    port: closedPort,
    selector: 'empty',
    contact: 'abuse@nomail.test',
  });
  assert.match(
    wrongPtr['valid-reverse-dns'] ?? '',
    /^fail: PTR elsewhere\.target\.test does not resolve back/,
  );
  assert.match(wrongPtr['server-key-published'] ?? '', /^fail: TXT has no public key/);
  assert.match(wrongPtr['abuse-contact'] ?? '', /^fail: nomail\.test publishes a null MX/);
  const nothing = await outcomes({ host: '127.0.0.3', port: closedPort });
  assert.match(nothing['valid-reverse-dns'] ?? '', /^fail: no PTR record/);
  assert.match(nothing['server-key-published'] ?? '', /^fail: no selector given/);
  assert.match(nothing['abuse-contact'] ?? '', /^fail: no contact given/);

  const unreachable = await probeApplicant({
    host: '127.0.0.1',
    port: 1,
    domain: 'target.test',
    resolver,
    timeoutMs: 1000,
  });
  const relay = unreachable.checks.filter((check) => check.rule === 'no-open-relay');
  assert.ok(
    relay.every((check) => check.outcome === 'inconclusive' && /could not connect/.test(check.detail)),
  );
});

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { aligned } from '../../../src/checks/dmarc/align.js';
import { createDmarcCheck, dmarcRegistration } from '../../../src/checks/dmarc/index.js';
import { parseDmarcRecord } from '../../../src/checks/dmarc/record.js';
import { formatReply } from '../../../src/core/reply.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import type { CheckRegistration } from '../../../src/pipeline/check.js';
import { checkRegistry } from '../../../src/pipeline/registry.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { keyRecordLine, plainMessage, rsaKey, runMessageChecks, signed } from './dkim-fixtures.js';

const key = rsaKey(1024);

// sender.test: SPF for 192.0.2.10, p=reject with sp=quarantine for its subdomains. strict.test
// asks for strict alignment. The others exercise pct, p=none, broken records and the PSL
// (example.co.uk and other.co.uk are different organizations under the public suffix co.uk).
const ZONES = `
  $ORIGIN sender.test.
  @ TXT "v=spf1 ip4:192.0.2.10 -all"
  _dmarc TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@sender.test"
  ${keyRecordLine('s._domainkey', key)}
  $ORIGIN strict.test.
  @ TXT "v=spf1 ip4:192.0.2.10 -all"
  _dmarc TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
  ${keyRecordLine('s._domainkey', key)}
  news TXT "v=spf1 ip4:192.0.2.10 -all"
  $ORIGIN sampled.test.
  _dmarc TXT "v=DMARC1; p=reject; pct=50"
  $ORIGIN monitor.test.
  _dmarc TXT "v=DMARC1; p=none"
  $ORIGIN broken.test.
  _dmarc TXT "v=DMARC1; p=block"
  $ORIGIN reports.test.
  _dmarc TXT "v=DMARC1; p=bogus; rua=mailto:d@reports.test"
  $ORIGIN twice.test.
  _dmarc TXT "v=DMARC1; p=none"
  _dmarc TXT "v=DMARC1; p=reject"
  $ORIGIN nodmarc.test.
  @ TXT "v=spf1 -all"
  $ORIGIN example.co.uk.
  _dmarc TXT "v=DMARC1; p=reject"
  ${keyRecordLine('s._domainkey', key)}
  $ORIGIN other.co.uk.
  ${keyRecordLine('s._domainkey', key)}
`;

const ALL = [{ use: 'spf', receiver: 'mx.outpost.test' }, { use: 'dkim' }, { use: 'dmarc' }];

/** The registry with a dmarc check whose pct samples are `sample`. */
function registryWith(sample: number): ReadonlyMap<string, CheckRegistration> {
  const dmarc = { ...dmarcRegistration, check: createDmarcCheck(() => sample) } as CheckRegistration;
  return new Map([...checkRegistry, ['dmarc', dmarc]]);
}

interface Scenario {
  from: string;
  mailFrom?: string;
  clientIp?: string;
  signer?: string;
  blocks?: Record<string, unknown>[];
  sample?: number;
}

async function runDmarc(t: TestContext, scenario: Scenario) {
  const dns = await startTestDns(t, ZONES);
  const message = plainMessage(`Alice <alice@${scenario.from}>`);
  const mail =
    scenario.signer === undefined
      ? message
      : await signed(message, { domain: scenario.signer, selector: 's', key });
  const { data, results } = await runMessageChecks(
    dns,
    scenario.blocks ?? ALL,
    { message: mail, mailFrom: scenario.mailFrom ?? '', clientIp: scenario.clientIp ?? '203.0.113.7' },
    { registry: registryWith(scenario.sample ?? 0.99) },
  );
  const dmarc = results.get('dmarc');
  assert.ok(dmarc, 'the dmarc check ran');
  return { dmarc, data, results };
}

test('an aligned DKIM pass is a DMARC pass even when SPF fails', async (t) => {
  const { dmarc, data, results } = await runDmarc(t, {
    from: 'sender.test',
    signer: 'sender.test',
    mailFrom: 'b@sender.test',
  });
  assert.equal(results.get('spf')?.result, 'fail');
  assert.equal(dmarc.result, 'pass');
  assert.deepEqual(dmarc.props, { 'header.from': 'sender.test', 'policy.dmarc': 'none' });
  assert.equal(dmarc.details?.aligned, 'dkim');
  assert.equal(data.action, 'accept');
  assert.match(
    formatAuthResults('mx.outpost.test', [['dmarc', dmarc]]),
    /\tdmarc=pass header\.from=sender\.test policy\.dmarc=none/,
  );
});

test('an aligned SPF pass is a DMARC pass without any signature', async (t) => {
  const { dmarc } = await runDmarc(t, {
    from: 'sender.test',
    mailFrom: 'bounce@sender.test',
    clientIp: '192.0.2.10',
  });
  assert.equal(dmarc.result, 'pass');
  assert.equal(dmarc.details?.aligned, 'spf');
});

test('relaxed alignment accepts a signature of the parent organization, and sp= governs subdomains', async (t) => {
  const { dmarc } = await runDmarc(t, { from: 'news.sender.test', signer: 'sender.test' });
  assert.equal(dmarc.result, 'pass');
  assert.equal(dmarc.details?.policy_domain, 'sender.test');
  const unsigned = await runDmarc(t, { from: 'news.sender.test' });
  assert.equal(unsigned.dmarc.result, 'fail');
  assert.equal(unsigned.dmarc.props?.['policy.dmarc'], 'quarantine');
  assert.equal(unsigned.data.action, 'quarantine');
});

test('strict alignment: a subdomain From does not align with the parent signature or SPF domain', async (t) => {
  const dkimOnly = await runDmarc(t, { from: 'news.strict.test', signer: 'strict.test' });
  assert.equal(dkimOnly.results.get('dkim')?.result, 'pass');
  assert.equal(dkimOnly.dmarc.result, 'fail');
  const spfOnly = await runDmarc(t, {
    from: 'news.strict.test',
    mailFrom: 'b@strict.test',
    clientIp: '192.0.2.10',
  });
  assert.equal(spfOnly.results.get('spf')?.result, 'pass');
  assert.equal(spfOnly.dmarc.result, 'fail');
  const exact = await runDmarc(t, { from: 'strict.test', signer: 'strict.test' });
  assert.equal(exact.dmarc.result, 'pass');
});

test('a failure under p=reject is refused with 550 5.7.1 by default', async (t) => {
  const { dmarc, data } = await runDmarc(t, { from: 'sender.test', mailFrom: 'b@nodmarc.test' });
  assert.equal(dmarc.result, 'fail');
  assert.equal(dmarc.props?.['policy.dmarc'], 'reject');
  assert.equal(dmarc.requestedAction, 'reject');
  assert.equal(data.action, 'reject');
  assert.equal(data.decidedBy, 'dmarc');
  const reply = stageReply(data);
  assert.ok(reply);
  assert.equal(
    formatReply(reply),
    '550 5.7.1 Unauthenticated mail from sender.test is refused by its DMARC policy\r\n',
  );
});

test('configuration can override the published policy', async (t) => {
  const blocks = [{ use: 'dkim' }, { use: 'dmarc', on: { fail: 'quarantine' } }];
  const { data } = await runDmarc(t, { from: 'sender.test', blocks });
  assert.equal(data.action, 'quarantine');
});

test('pct samples failures: an unsampled message gets the next less strict policy', async (t) => {
  const sampled = await runDmarc(t, { from: 'sampled.test', sample: 0.2 });
  assert.equal(sampled.dmarc.props?.['policy.dmarc'], 'reject');
  assert.equal(sampled.data.action, 'reject');
  const spared = await runDmarc(t, { from: 'sampled.test', sample: 0.7 });
  assert.equal(spared.dmarc.result, 'fail');
  assert.equal(spared.dmarc.props?.['policy.dmarc'], 'quarantine');
  assert.equal(spared.data.action, 'quarantine');
});

test('p=none failures are reported and accepted', async (t) => {
  const { dmarc, data } = await runDmarc(t, { from: 'monitor.test' });
  assert.equal(dmarc.result, 'fail');
  assert.equal(dmarc.props?.['policy.dmarc'], 'none');
  assert.equal(data.action, 'accept');
});

test('a domain without a DMARC record is none', async (t) => {
  const { dmarc } = await runDmarc(t, { from: 'nodmarc.test' });
  assert.equal(dmarc.result, 'none');
  assert.deepEqual(dmarc.props, { 'header.from': 'nodmarc.test' });
});

test('an unusable record is permerror; with a rua address it acts as p=none', async (t) => {
  const broken = await runDmarc(t, { from: 'broken.test' });
  assert.equal(broken.dmarc.result, 'permerror');
  assert.match(broken.dmarc.reason ?? '', /_dmarc\.broken\.test: invalid policy p=block/);
  const twice = await runDmarc(t, { from: 'twice.test' });
  assert.equal(twice.dmarc.result, 'permerror');
  const reports = await runDmarc(t, { from: 'reports.test' });
  assert.equal(reports.dmarc.result, 'fail');
  assert.equal(reports.dmarc.props?.['policy.dmarc'], 'none');
});

test('a policy lookup the DNS refuses is temperror', async (t) => {
  const { dmarc } = await runDmarc(t, { from: 'refused.test' });
  assert.equal(dmarc.result, 'temperror');
});

test('an SPF temperror without an aligned pass is temperror, not fail', async (t) => {
  const { dmarc, results } = await runDmarc(t, { from: 'sender.test', mailFrom: 'b@refused.test' });
  assert.equal(results.get('spf')?.result, 'temperror');
  assert.equal(dmarc.result, 'temperror');
});

test('organizational domains come from the Public Suffix List', async (t) => {
  const sameOrg = await runDmarc(t, { from: 'news.example.co.uk', signer: 'example.co.uk' });
  assert.equal(sameOrg.dmarc.result, 'pass');
  const otherOrg = await runDmarc(t, { from: 'example.co.uk', signer: 'other.co.uk' });
  assert.equal(otherOrg.results.get('dkim')?.result, 'pass');
  assert.equal(otherOrg.dmarc.result, 'fail');
});

test('without spf and dkim checks configured, dmarc evaluates them itself', async (t) => {
  const viaDkim = await runDmarc(t, {
    from: 'sender.test',
    signer: 'sender.test',
    blocks: [{ use: 'dmarc' }],
  });
  assert.equal(viaDkim.dmarc.result, 'pass');
  assert.equal(viaDkim.results.has('dkim'), false);
  const viaSpf = await runDmarc(t, {
    from: 'sender.test',
    mailFrom: 'b@sender.test',
    clientIp: '192.0.2.10',
    blocks: [{ use: 'dmarc' }],
  });
  assert.equal(viaSpf.dmarc.result, 'pass');
});

test('a From field with two author domains is permerror', async (t) => {
  const { dmarc } = await runDmarc(t, { from: 'sender.test>, Eve <eve@other.co.uk' });
  assert.equal(dmarc.result, 'permerror');
  assert.match(dmarc.reason ?? '', /exactly one author domain/);
});

test('record tags: defaults for bad optional tags, case-insensitive names, v=DMARC1 first', () => {
  assert.deepEqual(parseDmarcRecord('v=DMARC1; P=Reject; adkim=x; pct=150; aspf=S'), {
    ok: true,
    record: { p: 'reject', adkim: 'r', aspf: 's', pct: 100 },
  });
  assert.deepEqual(parseDmarcRecord('v=DMARC1;p=quarantine;sp=none;pct=20'), {
    ok: true,
    record: { p: 'quarantine', sp: 'none', adkim: 'r', aspf: 'r', pct: 20 },
  });
  assert.equal(parseDmarcRecord('p=reject; v=DMARC1').ok, false);
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=reject; sp=maybe'), {
    ok: false,
    problem: 'invalid policy p=reject sp=maybe',
  });
});

test('alignment ignores case and a trailing dot; strict needs the same name', () => {
  assert.equal(aligned('Sender.Test.', 'sender.test', 's'), true);
  assert.equal(aligned('mail.sender.test', 'sender.test', 's'), false);
  assert.equal(aligned('mail.sender.test', 'news.sender.test', 'r'), true);
  assert.equal(aligned('a.co.uk', 'b.co.uk', 'r'), false);
  assert.equal(aligned('', 'sender.test', 'r'), false);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mtamarkName } from '../../../src/checks/mtamark/index.js';
import { startTestDns } from '../../helpers/dns.js';
import { runConfiguredCheck } from './run-check.js';

const ZONES = `
  $ORIGIN 2.0.192.in-addr.arpa.
  _send._smtp._srv.25 TXT "1"
  _send._smtp._srv.26 TXT "0"
  _send._smtp._srv.27 TXT "yes"
  _send._smtp._srv.28 TXT "1"
  _send._smtp._srv.28 TXT "0"
  _send._smtp._srv.29 TXT "" "1"
  $ORIGIN 0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
  _send._smtp._srv.5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0 TXT "1"
  _send._smtp._srv.6.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0 TXT "0"
`;

const mtamark = { use: 'mtamark' };

test('the mark is asked at _send._smtp._srv under the full reverse name', () => {
  assert.equal(mtamarkName('192.0.2.25'), '_send._smtp._srv.25.2.0.192.in-addr.arpa');
  assert.equal(
    mtamarkName('2001:db8::1'),
    '_send._smtp._srv.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  );
});

test('"1" marks a host that may send: pass', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '192.0.2.25' });
  assert.equal(result.result, 'pass');
  assert.equal(outcome.action, 'accept');
});

test('"0" marks a host that may not send: fail, rejected by default', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '192.0.2.26' });
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Your IP [192.0.2.26] is marked as not sending mail (MTAMark)');
  assert.equal(outcome.action, 'reject');
});

test('no mark is none', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '192.0.2.30' });
  assert.equal(result.result, 'none');
  assert.equal(outcome.action, 'accept');
});

test('anything but one "1" or "0" is permerror', async (t) => {
  const dns = await startTestDns(t, ZONES);
  for (const clientIp of ['192.0.2.27', '192.0.2.28']) {
    const { result } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp });
    assert.equal(result.result, 'permerror', clientIp);
    assert.match(result.reason ?? '', /Malformed MTAMark record at _send\._smtp\._srv\./);
  }
});

test('a record split into several strings is read as their concatenation', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '192.0.2.29' });
  assert.equal(result.result, 'pass');
});

test('IPv6 marks live under ip6.arpa', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const marked = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '2001:db8:1::25' });
  assert.equal(marked.result.result, 'pass');
  const barred = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '2001:db8:1::26' });
  assert.equal(barred.result.result, 'fail');
});

test('a lookup the DNS refuses is temperror and defers by default', async (t) => {
  const dns = await startTestDns(t, ZONES);
  const { result, outcome } = await runConfiguredCheck(dns, 'connect', mtamark, { clientIp: '203.0.113.9' });
  assert.equal(result.result, 'temperror');
  assert.equal(outcome.action, 'defer');
});

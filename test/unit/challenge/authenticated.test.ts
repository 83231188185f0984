import assert from 'node:assert/strict';
import { test } from 'node:test';
import { senderAuthenticated } from '../../../src/challenge/authenticated.js';
import type { CheckResult } from '../../../src/pipeline/check.js';

const results = (entries: Record<string, CheckResult>) => new Map(Object.entries(entries));

test('SPF pass for MAIL FROM authenticates the sender; SPF pass for HELO only does not', () => {
  const mailfrom: CheckResult = { result: 'pass', props: { 'smtp.mailfrom': 'a@remote.example' } };
  const helo: CheckResult = { result: 'pass', props: { 'smtp.helo': 'mx.remote.example' } };
  assert.equal(senderAuthenticated(results({ spf: mailfrom }), 'a@remote.example'), true);
  assert.equal(senderAuthenticated(results({ spf: helo }), 'a@remote.example'), false);
  assert.equal(
    senderAuthenticated(results({ spf: { ...mailfrom, result: 'softfail' } }), 'a@remote.example'),
    false,
  );
  assert.equal(senderAuthenticated(results({ spf: mailfrom }), ''), false, 'the null sender never');
});

test('DKIM pass counts only when d= is aligned with the sender domain (relaxed)', () => {
  const dkim = (d: string, result: CheckResult['result'] = 'pass'): CheckResult => ({
    result,
    props: { 'header.d': d, 'header.s': 's1' },
  });
  assert.equal(senderAuthenticated(results({ dkim: dkim('remote.example') }), 'a@remote.example'), true);
  assert.equal(senderAuthenticated(results({ dkim: dkim('mail.remote.example') }), 'a@remote.example'), true);
  assert.equal(
    senderAuthenticated(results({ dkim: dkim('bulk-sender.example') }), 'a@remote.example'),
    false,
  );
  assert.equal(
    senderAuthenticated(results({ dkim: dkim('remote.example', 'fail') }), 'a@remote.example'),
    false,
  );
  // The aligned signature may be any of several.
  const several: CheckResult = { ...dkim('esp.example'), more: [dkim('remote.example')] };
  assert.equal(senderAuthenticated(results({ dkim: several }), 'a@remote.example'), true);
  assert.equal(senderAuthenticated(results({}), 'a@remote.example'), false);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admissionReport,
  DEFAULT_POLICY,
  fileComplaint,
  relistEntry,
  requestRemoval,
} from '../../../src/trustlist/policy.js';
import { tempStore } from './fixtures.js';

const DAY = 86_400_000;

function clock(start: string) {
  let now = Date.parse(start);
  return { now: () => new Date(now), advance: (days: number) => (now += days * DAY) };
}

const spam = (reporter: string, ip = '192.0.2.9') => ({
  ip,
  message: 'Received: from x ([192.0.2.9])\r\nSubject: cheap\r\n\r\nbuy',
  authenticationResults: 'mx.rcpt.test; dnswl=pass dns.zone=trust.test',
  reporter,
});

test('enough complaints from enough reporters within the window delist, with the count as reason', async (t) => {
  const time = clock('2025-03-01T00:00:00Z');
  const { store } = await tempStore(t, time.now);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'op');
  const first = fileComplaint(store, spam('a@r1.test'), DEFAULT_POLICY, 'api');
  assert.deepEqual([first.open, first.reporters, first.delisted], [1, 1, false]);
  fileComplaint(store, spam('a@r1.test'), DEFAULT_POLICY, 'api');
  const third = fileComplaint(store, spam('A@R1.test'), DEFAULT_POLICY, 'api');
  assert.equal(third.delisted, false, 'one reporter alone cannot delist');
  const fourth = fileComplaint(store, spam('b@r2.test'), DEFAULT_POLICY, 'api');
  assert.equal(fourth.delisted, true);
  assert.equal(fourth.entry?.status, 'delisted');
  assert.equal(
    fourth.entry?.reason,
    `4 complaints from 2 reporters within 30 days (latest #${fourth.complaint.id})`,
  );
  assert.equal(store.auditLog({ subject: '192.0.2.0/24' })[0]?.actor, 'policy');
  const after = fileComplaint(store, spam('c@r3.test'), DEFAULT_POLICY, 'api');
  assert.equal(after.delisted, false, 'a delisted entry keeps collecting evidence only');
  assert.equal(after.complaint.network, '192.0.2.0/24');
});

test('complaints older than the window do not count', async (t) => {
  const time = clock('2025-03-01T00:00:00Z');
  const { store } = await tempStore(t, time.now);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'op');
  fileComplaint(store, spam('a@r1.test'), DEFAULT_POLICY, 'api');
  fileComplaint(store, spam('b@r2.test'), DEFAULT_POLICY, 'api');
  time.advance(31);
  const late = fileComplaint(store, spam('c@r3.test'), DEFAULT_POLICY, 'api');
  assert.deepEqual([late.open, late.delisted], [1, false]);
});

test('a complaint about an unlisted or excluded address is kept as evidence only', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '10.0.0.0/8', category: 5, trust: 1 }, 'op');
  store.add({ network: '10.9.0.0/16', exclude: true, reason: 'dialup' }, 'op');
  const policy = { ...DEFAULT_POLICY, complaintThreshold: 1, minReporters: 1 };
  assert.equal(fileComplaint(store, spam('a@r.test', '198.51.100.1'), policy, 'api').complaint.network, null);
  const excluded = fileComplaint(store, spam('a@r.test', '10.9.1.1'), policy, 'api');
  assert.deepEqual([excluded.complaint.network, excluded.delisted], ['10.9.0.0/16', false]);
  assert.equal(store.get('10.0.0.0/8')?.status, 'listed');
  assert.equal(fileComplaint(store, spam('a@r.test', '10.1.1.1'), policy, 'api').delisted, true);
});

test('relisting waits out the cooling-off period unless forced, and settles the complaints', async (t) => {
  const time = clock('2025-03-01T00:00:00Z');
  const { store } = await tempStore(t, time.now);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'op');
  const policy = { ...DEFAULT_POLICY, complaintThreshold: 2, minReporters: 2 };
  fileComplaint(store, spam('a@r1.test'), policy, 'api');
  fileComplaint(store, spam('b@r2.test'), policy, 'api');
  assert.throws(() => relistEntry(store, '192.0.2.0/24', policy, 'op'), /may be relisted from 2025-03-08/);
  time.advance(7);
  assert.equal(relistEntry(store, '192.0.2.0/24', policy, 'op').status, 'listed');
  assert.equal(store.complaintsFor('192.0.2.0/24', { status: 'open' }).length, 0);
  // Settled complaints do not count again: one new complaint does not delist.
  assert.equal(fileComplaint(store, spam('c@r3.test'), policy, 'api').delisted, false);
  requestRemoval(store, '192.0.2.0/24', 'postmaster@esp.test', 'op');
  assert.equal(store.get('192.0.2.0/24')?.reason, 'removed at the request of postmaster@esp.test');
  assert.throws(
    () => relistEntry(store, '192.0.2.0/24', policy, 'op', { force: true }),
    /a reason is required to relist before the waiting period ends/,
  );
  const reason = 'the holder fixed its relay';
  assert.equal(relistEntry(store, '192.0.2.0/24', policy, 'op', { force: true, reason }).status, 'listed');
  const relisted = store.auditLog({ subject: '192.0.2.0/24' }).find((record) => record.action === 'relist');
  assert.equal((relisted?.after as { note?: string } | undefined)?.note, reason);
  assert.throws(() => relistEntry(store, '192.0.2.0/24', policy, 'op', { force: true, reason }), /is listed/);
});

test('the admission report names what is missing', async (t) => {
  const { store } = await tempStore(t);
  const check = (rule: string, outcome: 'pass' | 'fail') => ({ rule, test: rule, outcome, detail: '' });
  store.recordProbe(
    {
      ip: '192.0.2.25',
      port: 25,
      domain: 'esp.test',
      startedAt: new Date().toISOString(),
      passed: false,
      checks: [
        check('no-open-relay', 'pass'),
        check('no-open-relay', 'pass'),
        check('valid-reverse-dns', 'fail'),
        check('server-key-published', 'pass'),
        check('abuse-contact', 'pass'),
      ],
      transcript: [],
    },
    'op',
  );
  store.attest('192.0.2.0/24', 'no-viruses', 'clamav on outbound', 'op');
  const report = admissionReport(store, '192.0.2.0/24');
  assert.equal(report.probe?.ip, '192.0.2.25');
  assert.deepEqual(report.missing, ['valid-reverse-dns', 'no-bulk-mail']);
  assert.deepEqual(admissionReport(store, '198.51.100.0/24').missing.length, 6);
});

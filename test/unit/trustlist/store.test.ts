import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { isOutpostError } from '../../../src/core/errors.js';
import { TrustListStore } from '../../../src/trustlist/store.js';
import { tempStore } from './fixtures.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isOutpostError(error) ? `${error.code}: ${error.detail}` : String(error);
  }
  return undefined;
}

test('entries are added, updated, delisted and relisted, each step audited', async (t) => {
  const { store } = await tempStore(t);
  const added = store.add(
    { network: '192.0.2.0/24', category: 3, trust: 2, text: 'ESP $', contact: 'abuse@esp.test' },
    'alice',
  );
  assert.equal(added.status, 'listed');
  assert.equal(added.network, '192.0.2.0/24');
  assert.equal(store.update('192.0.2.0/24', { trust: 3 }, 'alice').trust, 3);
  const delisted = store.remove('192.0.2.0/24', 'spam run', 'bob');
  assert.deepEqual([delisted.status, delisted.reason], ['delisted', 'spam run']);
  assert.equal(store.relist('192.0.2.0/24', 'alice').status, 'listed');
  const actions = store
    .auditLog({ subject: '192.0.2.0/24' })
    .map((record) => `${record.actor}:${record.action}`);
  assert.deepEqual(actions, ['alice:relist', 'bob:delist', 'alice:update', 'alice:add']);
  const update = store.auditLog({ subject: '192.0.2.0/24' })[2];
  assert.ok(update);
  assert.deepEqual(
    [(update.before as { trust: number }).trust, (update.after as { trust: number }).trust],
    [2, 3],
  );
  assert.equal(store.get('192.0.2.0/24')?.reason, '');
  assert.equal(store.serial(), 4);
});

test('invalid input is refused with the catalogue code and a reason', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a');
  const cases: [() => unknown, RegExp][] = [
    [() => store.add({ network: '192.0.2.1/24', category: 3, trust: 2 }, 'a'), /BAD_REQUEST: .*host bits/],
    [() => store.add({ network: '198.51.100.0/24', category: 1, trust: 2 }, 'a'), /BAD_REQUEST: category/],
    [() => store.add({ network: '198.51.100.0/24', category: 3, trust: 4 }, 'a'), /BAD_REQUEST: trust/],
    [
      () => store.add({ network: '198.51.100.0/24', category: 3, trust: 1, text: 'costs $5' }, 'a'),
      /BAD_REQUEST: '\$5'/,
    ],
    [
      () => store.add({ network: '198.51.100.0/24', category: 3, trust: 1, text: 'tab\there' }, 'a'),
      /printable ASCII/,
    ],
    [() => store.add({ network: '127.0.0.0/24', category: 3, trust: 1 }, 'a'), /loopback/],
    [() => store.add({ network: '::ffff:192.0.2.0/120', category: 3, trust: 1 }, 'a'), /IPv4-mapped/],
    [
      () => store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a'),
      /CONFLICT: 192\.0\.2\.0\/24 is already/,
    ],
    [() => store.remove('203.0.113.0/24', 'x', 'a'), /NOT_FOUND/],
    [() => store.remove('192.0.2.0/24', ' ', 'a'), /BAD_REQUEST: a reason is required/],
    [() => store.relist('192.0.2.0/24', 'a'), /CONFLICT: .* is listed/],
  ];
  for (const [fn, expected] of cases) assert.match(code(fn) ?? 'no error', expected);
  assert.equal(store.serial(), 1, 'refused changes leave no trace');
});

test('covering finds the entries holding an address, most specific first', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '10.0.0.0/8', category: 5, trust: 1 }, 'a');
  store.add({ network: '10.1.0.0/16', category: 5, trust: 2 }, 'a');
  store.add({ network: '10.1.2.3/32', exclude: true, reason: 'pool' }, 'a');
  store.add({ network: '2001:db8::/32', category: 5, trust: 2 }, 'a');
  assert.deepEqual(
    store.covering('10.1.2.3').map((e) => e.network),
    ['10.1.2.3/32', '10.1.0.0/16', '10.0.0.0/8'],
  );
  assert.deepEqual(
    store.covering('10.9.9.9').map((e) => e.network),
    ['10.0.0.0/8'],
  );
  assert.deepEqual(
    store.covering('2001:DB8::77').map((e) => e.network),
    ['2001:db8::/32'],
  );
  assert.deepEqual(store.covering('192.0.2.1'), []);
  assert.deepEqual(
    store.list().map((e) => e.network),
    ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3/32', '2001:db8::/32'],
  );
});

test('imports add, update and keep delistings; replace delists what the file lacks', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '10.0.0.0/8', category: 5, trust: 1 }, 'a');
  store.add({ network: '10.2.0.0/16', category: 5, trust: 1 }, 'a');
  store.add({ network: '10.3.0.0/16', category: 5, trust: 1 }, 'a');
  store.remove('10.3.0.0/16', 'complaints', 'a');
  const summary = store.importEntries(
    [
      { network: '10.0.0.0/8', category: 5, trust: 1 },
      { network: '10.3.0.0/16', category: 5, trust: 1 },
      { network: '10.4.0.0/16', category: 6, trust: 3, text: 'new' },
      { network: '10.5.0.0/16', exclude: true, reason: 'pool' },
    ],
    'importer',
    { replace: true, replaceReason: 'not in the imported file' },
  );
  assert.deepEqual(summary, {
    added: 2,
    updated: 0,
    unchanged: 1,
    keptDelisted: ['10.3.0.0/16'],
    delisted: 1,
  });
  assert.equal(store.get('10.2.0.0/16')?.reason, 'not in the imported file');
  const again = store.importEntries(
    [{ network: '10.4.0.0/16', category: 6, trust: 2, text: 'new' }],
    'importer',
  );
  assert.equal(again.updated, 1);
  assert.equal(store.get('10.4.0.0/16')?.trust, 2);
  assert.throws(
    () => store.importEntries([{ network: 'bogus', category: 5, trust: 1 }], 'importer'),
    /not an IP/,
  );
});

test('complaints keep their evidence; a relisting resolves them', async (t) => {
  const { store } = await tempStore(t);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a');
  const complaint = store.addComplaint(
    {
      ip: '192.0.2.9',
      message: 'Subject: buy now\r\n\r\nspam',
      authenticationResults: 'mx.test; dnswl=pass',
      reporter: 'r@x.test',
    },
    '192.0.2.0/24',
    'api',
  );
  assert.equal(complaint.status, 'open');
  assert.equal(store.complaintsFor('192.0.2.0/24')[0]?.message, 'Subject: buy now\r\n\r\nspam');
  assert.equal(store.setComplaintStatus(complaint.id, 'dismissed', 'a').status, 'dismissed');
  store.setComplaintStatus(complaint.id, 'open', 'a');
  assert.equal(store.resolveComplaints('192.0.2.0/24', 'a'), 1);
  assert.equal(store.complaintsFor('192.0.2.0/24', { status: 'open' }).length, 0);
  assert.match(
    code(() => store.addComplaint({ ip: 'nope', message: 'x', reporter: 'r' }, null, 'api')) ?? '',
    /BAD_REQUEST/,
  );
});

test('a second connection sees changes through data_version; read-only opens cannot write', async (t) => {
  const { store, dir } = await tempStore(t);
  const reader = TrustListStore.open(path.join(dir, 'trustlist.db'), { readonly: true });
  t.after(() => reader.close());
  const before = reader.dataVersion();
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a');
  assert.notEqual(reader.dataVersion(), before);
  assert.equal(reader.all().length, 1);
  assert.throws(() => reader.add({ network: '198.51.100.0/24', category: 3, trust: 2 }, 'a'), /readonly/);
});

test('change listeners hear committed changes only', async (t) => {
  const { store } = await tempStore(t);
  let heard = 0;
  const stop = store.onChange(() => heard++);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a');
  assert.throws(() => store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'a'));
  assert.equal(heard, 1);
  stop();
  store.remove('192.0.2.0/24', 'x', 'a');
  assert.equal(heard, 1);
});

// The behaviour every queue store must have. Each store's test file runs it:
// runStoreContract('sqlite', (dir) => openSqliteStore(...)).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { isOutpostError } from '../../../src/core/errors.js';
import { newQueueId } from '../../../src/queue/ids.js';
import type { LeasedRecipient, NewMessage, Store } from '../../../src/queue/store/types.js';

/** Opens (or reopens) a store keeping its data in dir. */
export type OpenStore = (dir: string) => Promise<Store>;

// A fixed reception time well in the past, so it is due for any clock the store uses internally.
export const T0 = 1_700_000_000_000;

export function sampleMessage(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    id: newQueueId(),
    sender: 'alice@sender.example',
    body: Buffer.from('Received: by test\r\nSubject: hi\r\n\r\nhello\r\n'),
    receivedAt: T0,
    meta: { listener: 'mx', clientIp: '127.0.0.1' },
    recipients: [
      { address: 'bob@rcpt.example', target: 'maildir' },
      {
        address: 'carol@far.example',
        target: 'smtp',
        notify: ['FAILURE', 'DELAY'],
        orcpt: 'rfc822;carol@far.example',
      },
    ],
    ...overrides,
  };
}

export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isOutpostError(error), `expected an OutpostError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openFresh(t: TestContext, openStore: OpenStore): Promise<{ store: Store; dir: string }> {
  const dir = await tempDir(t);
  const store = await openStore(dir);
  t.after(() => store.close());
  return { store, dir };
}

function keys(rows: LeasedRecipient[]): string[] {
  return rows.map((r) => `${r.messageId}/${r.rcptIndex}`);
}

const lease = (store: Store, now: number, limit = 100, leaseMs = 60_000, owner = 'test') =>
  store.lease({ now, limit, leaseMs, owner });

export function runStoreContract(name: string, openStore: OpenStore): void {
  // Each test has its own store in its own directory, so they can run side by side.
  describe(`${name} store contract`, { concurrency: 4 }, () => contract(name, openStore));
}

function contract(name: string, openStore: OpenStore): void {
  test(`${name}: an enqueued message reads back with every field`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({ envid: 'ENV1', ret: 'HDRS' });
    await store.enqueue(message);
    const row = await store.message(message.id);
    assert.ok(row);
    assert.equal(row.sender, message.sender);
    assert.equal(row.size, message.body.length);
    assert.equal(row.receivedAt, T0);
    assert.equal(row.envid, 'ENV1');
    assert.equal(row.ret, 'HDRS');
    assert.deepEqual(row.meta, message.meta);
    assert.equal(row.recipients.length, 2);
    const [bob, carol] = row.recipients;
    assert.equal(bob?.address, 'bob@rcpt.example');
    assert.equal(bob?.status, 'queued');
    assert.equal(bob?.folder, '');
    assert.equal(bob?.notify, undefined);
    assert.equal(carol?.rcptIndex, 1);
    assert.deepEqual(carol?.notify, ['FAILURE', 'DELAY']);
    assert.equal(carol?.orcpt, 'rfc822;carol@far.example');
    assert.deepEqual(await store.body(message.id), message.body);
    assert.equal(await store.body('NOSUCHID'), undefined);
    assert.equal(await store.message('NOSUCHID'), undefined);
  });

  test(`${name}: a large body reads back byte for byte`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const body = Buffer.alloc(1024 * 1024 + 7);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const message = sampleMessage({ body });
    await store.enqueue(message);
    assert.deepEqual(await store.body(message.id), body);
    assert.equal((await store.message(message.id))?.size, body.length);
  });

  test(`${name}: NOTIFY=NEVER (empty list) survives as an empty list`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({ recipients: [{ address: 'x@y.example', target: 'smtp', notify: [] }] });
    await store.enqueue(message);
    assert.deepEqual((await store.message(message.id))?.recipients[0]?.notify, []);
  });

  test(`${name}: concurrent enqueues all land, sharing commits when the store counts them`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const before = (await store.stats()).commits;
    const messages = Array.from({ length: 200 }, () => sampleMessage());
    await Promise.all(messages.map((m) => store.enqueue(m)));
    const stats = await store.stats();
    assert.equal(stats.messages, 200);
    assert.equal(stats.byStatus.queued, 400);
    if (stats.commits !== undefined && before !== undefined) {
      const transactions = stats.commits.transactions - before.transactions;
      const operations = stats.commits.operations - before.operations;
      assert.equal(operations, 200);
      assert.ok(
        transactions < operations,
        `group commit: ${transactions} commits for ${operations} enqueues`,
      );
    }
  });

  test(`${name}: a bad message is refused alone and changes nothing`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const original = sampleMessage();
    await store.enqueue(original);
    const good = Array.from({ length: 10 }, () => sampleMessage());
    const duplicate = sampleMessage({ id: original.id, body: Buffer.from('impostor') });
    const results = await Promise.allSettled([...good, duplicate].map((m) => store.enqueue(m)));
    assert.deepEqual(
      results.map((r) => r.status),
      [...good.map(() => 'fulfilled'), 'rejected'],
    );
    await rejectsWith(store.enqueue(sampleMessage({ id: original.id })), 'CONFLICT');
    await rejectsWith(store.enqueue(sampleMessage({ id: '../escape' })), 'BAD_REQUEST');
    await rejectsWith(store.enqueue(sampleMessage({ recipients: [] })), 'BAD_REQUEST');
    assert.deepEqual(await store.body(original.id), original.body);
    assert.equal((await store.stats()).messages, 11);
  });

  test(`${name}: two concurrent leasers never get the same recipient`, async (t) => {
    const { store } = await openFresh(t, openStore);
    await Promise.all(Array.from({ length: 60 }, () => store.enqueue(sampleMessage())));
    const drain = async (owner: string) => {
      const got: string[] = [];
      for (let round = 0; round < 100; round++) {
        const rows = await lease(store, T0, 7, 60_000, owner);
        if (rows.length === 0) break;
        got.push(...keys(rows));
      }
      return got;
    };
    const [a, b] = await Promise.all([drain('a'), drain('b')]);
    const all = [...a, ...b];
    assert.equal(new Set(all).size, all.length, 'a recipient was leased twice');
    assert.equal(all.length, 120);
    assert.ok(a.length > 0 && b.length > 0);
  });

  test(`${name}: leases carry the envelope and expire`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage();
    await store.enqueue(message);
    assert.deepEqual(await lease(store, T0 - 1), [], 'not due before receivedAt');
    const first = await lease(store, T0, 100, 1000);
    assert.equal(first.length, 2);
    assert.equal(first[0]?.sender, message.sender);
    assert.equal(first[0]?.receivedAt, T0);
    assert.equal(first[0]?.leaseUntil, T0 + 1000);
    assert.notEqual(first[0]?.recovered, true);
    assert.deepEqual(await lease(store, T0 + 999), [], 'still leased');
    const again = await lease(store, T0 + 1001);
    assert.deepEqual(keys(again).sort(), keys(first).sort(), 'due again once the lease ran out');
    assert.notEqual(again[0]?.recovered, false, 'a lease that ran out is not reported as fresh');
  });

  test(`${name}: complete queues notices with the outcomes and remembers delay notices`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({
      recipients: ['a', 'b'].map((l) => ({ address: `${l}@x.example`, target: 'smtp' })),
    });
    await store.enqueue(message);
    await lease(store, T0);
    const notice = sampleMessage({
      sender: '',
      body: Buffer.from('Subject: Delayed Mail\r\n\r\nstill trying\r\n'),
      meta: { dsn: 'delay', about: message.id },
      recipients: [{ address: 'alice@sender.example', target: 'smtp', notify: [] }],
    });
    const deferred = { status: 'deferred', reply: '451 4.4.1 later', nextAttemptAt: T0 + 60_000 } as const;
    await store.complete(
      [
        { messageId: message.id, rcptIndex: 0, ...deferred, delayNotified: true },
        { messageId: message.id, rcptIndex: 1, ...deferred },
      ],
      [notice],
    );
    const rows = (await store.message(message.id))?.recipients ?? [];
    assert.equal(typeof rows[0]?.delayNotifiedAt, 'number');
    assert.equal(rows[1]?.delayNotifiedAt, undefined);
    const queued = await store.message(notice.id);
    assert.equal(queued?.sender, '');
    assert.deepEqual(queued?.meta, { dsn: 'delay', about: message.id });
    assert.deepEqual(
      queued?.recipients.map((r) => [r.address, r.status, r.notify]),
      [['alice@sender.example', 'queued', []]],
    );
    assert.deepEqual(await store.body(notice.id), notice.body);
  });

  test(`${name}: complete records each outcome and drops the lease`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({
      recipients: ['a', 'b', 'c', 'd'].map((l) => ({ address: `${l}@x.example`, target: 'smtp' })),
    });
    await store.enqueue(message);
    const id = message.id;
    await lease(store, T0);
    await store.complete([
      { messageId: id, rcptIndex: 0, status: 'delivered', reply: '250 2.0.0 ok' },
      {
        messageId: id,
        rcptIndex: 1,
        status: 'deferred',
        reply: '451 4.4.1 later',
        nextAttemptAt: T0 + 60_000,
      },
      { messageId: id, rcptIndex: 2, status: 'failed', reply: '550 5.1.1 no' },
      { messageId: id, rcptIndex: 3, status: 'expired', reply: '451 4.4.1 too old' },
    ]);
    const rows = (await store.message(id))?.recipients ?? [];
    assert.deepEqual(
      rows.map((r) => [r.status, r.attempts, r.lastReply]),
      [
        ['delivered', 1, '250 2.0.0 ok'],
        ['deferred', 1, '451 4.4.1 later'],
        ['failed', 1, '550 5.1.1 no'],
        ['expired', 1, '451 4.4.1 too old'],
      ],
    );
    assert.equal(rows[1]?.nextAttemptAt, T0 + 60_000);
    assert.deepEqual(await lease(store, T0 + 59_999), [], 'deferred is not due before its time');
    const retry = await lease(store, T0 + 60_000);
    assert.deepEqual(keys(retry), [`${id}/1`]);
    assert.equal(retry[0]?.recovered, false, 'completed leases are not "recovered"');
  });

  test(`${name}: hold, release, flush`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage();
    const id = message.id;
    await store.enqueue(message);
    assert.equal(await store.setStatus(id, ['queued', 'deferred'], 'held'), 2);
    assert.deepEqual(await lease(store, T0 + 1), []);
    assert.equal((await store.list({ status: 'held' })).length, 2);
    assert.equal(await store.setStatus(id, ['held'], 'queued', 1), 1);
    assert.deepEqual(keys(await lease(store, Date.now())), [`${id}/1`]);
    assert.equal(await store.setStatus('NOSUCHID', ['held'], 'queued'), 0);

    const later = sampleMessage();
    await store.enqueue(later);
    await lease(store, T0);
    const far = Date.now() + 3_600_000;
    await store.complete(
      later.recipients.map((_, i) => ({
        messageId: later.id,
        rcptIndex: i,
        status: 'deferred' as const,
        reply: '451 x',
        nextAttemptAt: far,
      })),
    );
    assert.deepEqual(await lease(store, Date.now()), []);
    assert.equal(await store.flush(later.id), 2);
    assert.equal((await lease(store, Date.now())).length, 2);
    assert.equal(await store.flush(), 0, 'nothing deferred into the future any more');
  });

  test(`${name}: release, requeue and setFolder restart the retry life a lease carries; hold and flush do not`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const held = sampleMessage({
      recipients: [
        { address: 'bob@rcpt.example', target: 'smtp', status: 'held' },
        { address: 'carol@far.example', target: 'smtp' },
      ],
    });
    await store.enqueue(held);
    const [fresh] = await lease(store, T0, 100, 1000);
    assert.equal(fresh?.rcptIndex, 1, 'the held recipient is not leased');
    assert.equal(fresh?.expiryBase, T0, 'a recipient never moved lives from its reception');

    const beforeRelease = Date.now();
    assert.equal(await store.setStatus(held.id, ['held'], 'queued'), 1);
    const released = (await lease(store, Date.now() + 1, 100, 1000)).find((r) => r.rcptIndex === 0);
    assert.ok(released, 'the released recipient is due now');
    assert.equal(released.receivedAt, T0, 'reception itself is unchanged');
    assert.ok(
      (released.expiryBase ?? 0) >= beforeRelease,
      `released: life starts at the release (${released.expiryBase} < ${beforeRelease})`,
    );

    const expired = sampleMessage({ recipients: [{ address: 'dave@far.example', target: 'smtp' }] });
    const deferred = sampleMessage({ recipients: [{ address: 'erin@far.example', target: 'smtp' }] });
    const junk = sampleMessage({
      recipients: [{ address: 'frank@rcpt.example', target: 'maildir', folder: 'Junk' }],
    });
    for (const m of [expired, deferred, junk]) await store.enqueue(m);
    await lease(store, T0, 100, 1000);
    await store.complete([
      { messageId: expired.id, rcptIndex: 0, status: 'expired', reply: '451 4.4.1 too old' },
      {
        messageId: deferred.id,
        rcptIndex: 0,
        status: 'deferred',
        reply: '451 x',
        nextAttemptAt: Date.now() + 3_600_000,
      },
      { messageId: junk.id, rcptIndex: 0, status: 'delivered', reply: '250 ok' },
    ]);
    // Moves to a status other than 'queued' keep the clock; flush only makes a deferral due now.
    assert.equal(await store.setStatus(deferred.id, ['deferred'], 'held'), 1);
    assert.equal(await store.setStatus(deferred.id, ['held'], 'deferred'), 1);
    assert.equal(await store.flush(deferred.id), 1);
    const beforeRequeue = Date.now();
    assert.equal(await store.setStatus(expired.id, ['expired'], 'queued'), 1);
    assert.equal(await store.setFolder(junk.id, ''), 1);
    const again = await lease(store, Date.now() + 1, 100, 1000);
    const lifeOf = (id: string) => again.find((r) => r.messageId === id)?.expiryBase;
    assert.equal(lifeOf(deferred.id), T0, 'hold, flush and non-queued moves keep the clock');
    assert.ok((lifeOf(expired.id) ?? 0) >= beforeRequeue, 'requeue of an expired recipient restarts it');
    assert.ok((lifeOf(junk.id) ?? 0) >= beforeRequeue, 'setFolder (release from Junk) restarts it');
  });

  test(`${name}: leases of an earlier run are recovered at start-up, marked as recovered`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({ envid: 'env-1', ret: 'HDRS' });
    await store.enqueue(message);
    const first = await store.lease({ now: T0 + 1, limit: 10, leaseMs: 3_600_000, owner: 'dead' });
    assert.equal(first.length, 2);
    assert.equal(first[0]?.envid, 'env-1');
    assert.equal(first[0]?.ret, 'HDRS');
    assert.deepEqual(await store.lease({ now: T0 + 2, limit: 10, leaseMs: 1000, owner: 'new' }), []);
    assert.equal(await store.recoverLeases(), 2);
    const again = await store.lease({ now: T0 + 3, limit: 10, leaseMs: 1000, owner: 'new' });
    assert.deepEqual(keys(again).sort(), keys(first).sort());
    assert.ok(again.every((r) => r.recovered === true));
  });

  test(`${name}: setFolder moves a recipient to another folder and queues it again`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const message = sampleMessage({
      recipients: [{ address: 'bob@rcpt.example', target: 'maildir', folder: 'Junk' }],
    });
    await store.enqueue(message);
    const [leased] = await store.lease({ now: T0 + 1, limit: 10, leaseMs: 1000, owner: 'w' });
    assert.ok(leased);
    await store.complete([{ messageId: message.id, rcptIndex: 0, status: 'delivered', reply: '250 ok' }]);
    assert.equal(await store.setFolder(message.id, '', 0), 1);
    const row = (await store.message(message.id))?.recipients[0];
    assert.equal(row?.folder, '');
    assert.equal(row?.status, 'queued');
    assert.equal(await store.setFolder('NOSUCHMESSAGE', ''), 0);
  });

  test(`${name}: list filters by status, sender and recipient`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const one = sampleMessage({ sender: 'one@s.example' });
    const two = sampleMessage({ sender: 'two@s.example' });
    await store.enqueue(one);
    await store.enqueue(two);
    await store.setStatus(two.id, ['queued'], 'held', 0);
    assert.equal((await store.list({})).length, 4);
    assert.deepEqual(
      (await store.list({ sender: 'TWO@s.example' })).map((r) => r.messageId),
      [two.id, two.id],
    );
    assert.deepEqual(
      (await store.list({ status: 'held' })).map((r) => r.address),
      ['bob@rcpt.example'],
    );
    assert.equal((await store.list({ recipient: 'carol@far.example' })).length, 2);
    assert.equal((await store.list({ limit: 3 })).length, 3);
  });

  test(`${name}: remove and purge delete messages and bodies`, async (t) => {
    const { store } = await openFresh(t, openStore);
    const gone = sampleMessage({ body: Buffer.alloc(600 * 1024, 1) });
    await store.enqueue(gone);
    assert.equal(await store.remove(gone.id), true);
    assert.equal(await store.remove(gone.id), false);
    assert.equal(await store.message(gone.id), undefined);
    assert.equal(await store.body(gone.id), undefined);

    const done = sampleMessage();
    const pending = sampleMessage();
    await store.enqueue(done);
    await store.enqueue(pending);
    await lease(store, T0);
    await store.complete([
      { messageId: done.id, rcptIndex: 0, status: 'delivered', reply: '250 ok' },
      { messageId: done.id, rcptIndex: 1, status: 'failed', reply: '550 no' },
      { messageId: pending.id, rcptIndex: 0, status: 'delivered', reply: '250 ok' },
    ]);
    assert.equal(await store.purge(T0), 0, 'nothing is older than its reception');
    assert.equal(await store.purge(Date.now() + 1000), 1);
    assert.equal(await store.message(done.id), undefined);
    assert.ok(await store.message(pending.id), 'a message with a recipient still to deliver stays');
  });

  test(`${name}: users`, async (t) => {
    const { store } = await openFresh(t, openStore);
    await store.addUser({
      address: 'bob@rcpt.example',
      passwordHash: 'scrypt$x',
      settings: { lang: 'en' },
      createdAt: T0,
    });
    await store.addUser({ address: 'alice@rcpt.example', settings: {}, createdAt: T0 });
    await rejectsWith(
      store.addUser({ address: 'bob@rcpt.example', settings: {}, createdAt: T0 }),
      'CONFLICT',
    );
    assert.deepEqual(await store.getUser('bob@rcpt.example'), {
      address: 'bob@rcpt.example',
      passwordHash: 'scrypt$x',
      settings: { lang: 'en' },
      createdAt: T0,
    });
    assert.deepEqual(
      (await store.listUsers()).map((u) => u.address),
      ['alice@rcpt.example', 'bob@rcpt.example'],
    );
    assert.equal(await store.updateUser('bob@rcpt.example', { settings: { lang: 'de' } }), true);
    assert.equal((await store.getUser('bob@rcpt.example'))?.passwordHash, 'scrypt$x');
    assert.equal(await store.updateUser('bob@rcpt.example', { passwordHash: 'scrypt$y' }), true);
    assert.deepEqual((await store.getUser('bob@rcpt.example'))?.settings, { lang: 'de' });
    assert.equal((await store.getUser('bob@rcpt.example'))?.passwordHash, 'scrypt$y');
    assert.equal(await store.updateUser('nobody@rcpt.example', { settings: {} }), false);
    assert.equal(await store.removeUser('bob@rcpt.example'), true);
    assert.equal(await store.removeUser('bob@rcpt.example'), false);
    assert.equal(await store.getUser('bob@rcpt.example'), undefined);
  });

  test(`${name}: everything survives close and reopen`, async (t) => {
    const dir = await tempDir(t);
    const store = await openStore(dir);
    const small = sampleMessage();
    const large = sampleMessage({ body: Buffer.alloc(700 * 1024, 7) });
    await store.enqueue(small);
    await store.enqueue(large);
    await lease(store, T0);
    await store.complete([{ messageId: small.id, rcptIndex: 0, status: 'delivered', reply: '250 ok' }]);
    await store.addUser({ address: 'bob@rcpt.example', settings: {}, createdAt: T0 });
    const before = await store.message(small.id);
    await store.close();

    const reopened = await openStore(dir);
    t.after(() => reopened.close());
    assert.deepEqual(await reopened.message(small.id), before);
    assert.deepEqual(await reopened.body(small.id), small.body);
    assert.deepEqual(await reopened.body(large.id), large.body);
    assert.equal((await reopened.getUser('bob@rcpt.example'))?.address, 'bob@rcpt.example');
    assert.equal((await reopened.stats()).messages, 2);
  });
}

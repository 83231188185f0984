// Queue operations over the HTTP API: a real SQLite store behind the real app, via fastify inject().
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import Fastify from 'fastify';
import { buildHttpApp } from '../../../src/http/app.js';
import { installErrorHandler } from '../../../src/http/errors.js';
import { queueRoutes } from '../../../src/http/queue-routes.js';
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { NewMessage, Store } from '../../../src/queue/store/types.js';

const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

async function openStore(t: TestContext): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-http-queue-'));
  const store = await openSqliteStore({ path: join(dir, 'db', 'queue.db'), bodiesDir: join(dir, 'bodies') });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

async function api(t: TestContext) {
  const store = await openStore(t);
  const app = await buildHttpApp({ store, token: TOKEN, health: () => ({}) });
  t.after(() => app.close());
  return { store, app };
}

function message(): NewMessage {
  return {
    id: newQueueId(),
    sender: 'alice@sender.example',
    body: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
    receivedAt: Date.now(),
    meta: {},
    recipients: [
      { address: 'bob@far.example', target: 'smtp' },
      { address: 'carol@far.example', target: 'smtp' },
    ],
  };
}

async function statuses(store: Store, id: string): Promise<string[]> {
  return ((await store.message(id))?.recipients ?? []).map((r) => r.status);
}

test('every queue route refuses a request without the bearer token, with a JSON 401', async (t) => {
  const { store, app } = await api(t);
  const m = message();
  await store.enqueue(m);
  const requests = [
    { method: 'GET', url: '/api/queue' },
    { method: 'GET', url: '/api/queue/stats' },
    { method: 'GET', url: `/api/queue/${m.id}` },
    { method: 'POST', url: `/api/queue/${m.id}/hold` },
    { method: 'POST', url: `/api/queue/${m.id}/release` },
    { method: 'POST', url: `/api/queue/${m.id}/flush` },
    { method: 'POST', url: `/api/queue/${m.id}/requeue` },
    { method: 'POST', url: '/api/queue/flush' },
    { method: 'DELETE', url: `/api/queue/${m.id}` },
  ] as const;
  for (const request of requests) {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }]) {
      const res = await app.inject({ ...request, headers });
      assert.equal(res.statusCode, 401, `${request.method} ${request.url}`);
      assert.equal(res.json().error.code, 'UNAUTHORIZED');
    }
  }
  assert.deepEqual(await statuses(store, m.id), ['queued', 'queued'], 'nothing changed');
});

test('hold, release, requeue and flush move recipients as documented', async (t) => {
  const { store, app } = await api(t);
  const m = message();
  await store.enqueue(m);

  const hold = await app.inject({ method: 'POST', url: `/api/queue/${m.id}/hold`, headers: auth });
  assert.equal(hold.statusCode, 200);
  assert.deepEqual(hold.json(), { id: m.id, action: 'hold', changed: 2 });
  assert.deepEqual(await statuses(store, m.id), ['held', 'held']);
  const leased = await store.lease({ now: Date.now() + 1000, limit: 10, leaseMs: 60_000, owner: 't' });
  assert.equal(leased.length, 0, 'held recipients are not delivered');

  const again = await app.inject({ method: 'POST', url: `/api/queue/${m.id}/hold`, headers: auth });
  assert.equal(again.json().changed, 0, 'holding twice changes nothing');

  const release = await app.inject({ method: 'POST', url: `/api/queue/${m.id}/release`, headers: auth });
  assert.deepEqual(release.json(), { id: m.id, action: 'release', changed: 2 });
  assert.deepEqual(await statuses(store, m.id), ['queued', 'queued']);

  // One recipient failed, one waits an hour.
  const now = Date.now();
  await store.lease({ now, limit: 10, leaseMs: 60_000, owner: 't' });
  await store.complete([
    { messageId: m.id, rcptIndex: 0, status: 'failed', reply: '550 5.1.1 no such user' },
    {
      messageId: m.id,
      rcptIndex: 1,
      status: 'deferred',
      reply: '451 4.4.1 later',
      nextAttemptAt: now + 3_600_000,
    },
  ]);
  const flush = await app.inject({ method: 'POST', url: `/api/queue/${m.id}/flush`, headers: auth });
  assert.deepEqual(flush.json(), { id: m.id, action: 'flush', changed: 1 });
  const due = (await store.message(m.id))?.recipients[1];
  assert.ok((due?.nextAttemptAt ?? Infinity) <= Date.now(), 'the deferred recipient is due now');
  assert.equal(due?.status, 'deferred');

  const requeue = await app.inject({ method: 'POST', url: `/api/queue/${m.id}/requeue`, headers: auth });
  assert.deepEqual(requeue.json(), { id: m.id, action: 'requeue', changed: 2 });
  assert.deepEqual(await statuses(store, m.id), ['queued', 'queued']);

  const stats = await app.inject({ method: 'GET', url: '/api/queue/stats', headers: auth });
  assert.equal(stats.json().byStatus.queued, 2);
});

test('DELETE removes a message; unknown ids and actions are JSON 404s', async (t) => {
  const { store, app } = await api(t);
  const m = message();
  await store.enqueue(m);
  const removed = await app.inject({ method: 'DELETE', url: `/api/queue/${m.id}`, headers: auth });
  assert.equal(removed.statusCode, 200);
  assert.deepEqual(removed.json(), { id: m.id, removed: true });
  assert.equal(await store.message(m.id), undefined);
  assert.equal(await store.body(m.id), undefined);

  for (const request of [
    { method: 'GET', url: `/api/queue/${m.id}` },
    { method: 'DELETE', url: `/api/queue/${m.id}` },
    { method: 'POST', url: `/api/queue/${m.id}/hold` },
    { method: 'POST', url: '/api/queue/NOSUCHMESSAGE/requeue' },
    { method: 'POST', url: `/api/queue/${m.id}/explode` },
  ] as const) {
    const res = await app.inject({ ...request, headers: auth });
    assert.equal(res.statusCode, 404, `${request.method} ${request.url}`);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(res.json().error.code, 'NOT_FOUND');
  }
});

test('flushing the whole queue makes every deferred recipient due and kicks the runner', async (t) => {
  const store = await openStore(t);
  let kicks = 0;
  const app = Fastify();
  installErrorHandler(app);
  await app.register(queueRoutes(store, { onDue: () => (kicks += 1) }));
  t.after(() => app.close());
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = message();
    ids.push(m.id);
    await store.enqueue(m);
  }
  await store.lease({ now, limit: 10, leaseMs: 60_000, owner: 't' });
  await store.complete(
    ids.flatMap((id) =>
      [0, 1].map((rcptIndex) => ({
        messageId: id,
        rcptIndex,
        status: 'deferred' as const,
        reply: '451 4.4.1 later',
        nextAttemptAt: now + 3_600_000,
      })),
    ),
  );
  const res = await app.inject({ method: 'POST', url: '/api/queue/flush' });
  assert.deepEqual(res.json(), { action: 'flush', changed: 6 });
  assert.equal(kicks, 1);
  const hold = await app.inject({ method: 'POST', url: `/api/queue/${ids[0]}/hold` });
  assert.equal(hold.json().changed, 2);
  assert.equal(kicks, 1, 'holding makes nothing due');
});

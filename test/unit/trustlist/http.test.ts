import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import Fastify from 'fastify';
import { bearerAuth } from '../../../src/http/auth.js';
import { installErrorHandler } from '../../../src/http/errors.js';
import { trustlistRoutes } from '../../../src/trustlist/http.js';
import { DEFAULT_POLICY } from '../../../src/trustlist/policy.js';
import { tempStore } from './fixtures.js';

const TOKEN = 'trustlist-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

async function api(t: TestContext) {
  const { store } = await tempStore(t);
  const app = Fastify({ logger: false });
  installErrorHandler(app);
  await app.register(async (scope) => {
    scope.addHook('onRequest', bearerAuth(TOKEN));
    await scope.register(
      trustlistRoutes(store, {
        policy: { ...DEFAULT_POLICY, complaintThreshold: 2, minReporters: 2 },
        actor: () => 'alice',
      }),
    );
  });
  t.after(() => app.close());
  return { app, store };
}

const message = [
  'Received: from spammer (mail.esp.test [192.0.2.25])',
  '\tby mx.rcpt.test (outpost) with ESMTP id 1;',
  'Authentication-Results: mx.rcpt.test; iprev=pass policy.iprev=192.0.2.25; dnswl=pass dns.zone=trust.test',
  'Subject: cheap pills',
  '',
  'buy now',
].join('\r\n');

test('entries are listed, added, changed, delisted and relisted over the API', async (t) => {
  const { app } = await api(t);
  const add = await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries',
    headers: auth,
    payload: { network: '192.0.2.0/24', category: 3, trust: 2, text: 'ESP $', contact: 'abuse@esp.test' },
  });
  assert.equal(add.statusCode, 201);
  assert.equal(add.json().network, '192.0.2.0/24');
  const list = await app.inject({ url: '/api/trustlist/entries', headers: auth });
  assert.deepEqual(
    list.json().entries.map((entry: { network: string }) => entry.network),
    ['192.0.2.0/24'],
  );
  const patch = await app.inject({
    method: 'PATCH',
    url: '/api/trustlist/entries/192.0.2.0%2F24',
    headers: auth,
    payload: { trust: 3 },
  });
  assert.equal(patch.json().trust, 3);
  const remove = await app.inject({
    method: 'DELETE',
    url: '/api/trustlist/entries/192.0.2.0%2F24',
    headers: auth,
    payload: { reason: 'spam run' },
  });
  assert.deepEqual(
    [remove.statusCode, remove.json().status, remove.json().reason],
    [200, 'delisted', 'spam run'],
  );
  const early = await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries/192.0.2.0%2F24/relist',
    headers: auth,
  });
  assert.equal(early.statusCode, 409);
  assert.equal(early.json().error.code, 'CONFLICT');
  const forcedWithoutReason = await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries/192.0.2.0%2F24/relist',
    headers: auth,
    payload: { force: true },
  });
  assert.equal(forcedWithoutReason.statusCode, 400);
  assert.match(forcedWithoutReason.json().error.message, /a reason is required/);
  const forced = await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries/192.0.2.0%2F24/relist',
    headers: auth,
    payload: { force: true, reason: 'open relay closed, probe passed' },
  });
  assert.equal(forced.json().status, 'listed');
  const requested = await app.inject({
    method: 'DELETE',
    url: '/api/trustlist/entries/192.0.2.0%2F24',
    headers: auth,
    payload: { requested_by: 'postmaster@esp.test' },
  });
  assert.equal(requested.json().reason, 'removed at the request of postmaster@esp.test');
  await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries/192.0.2.0%2F24/relist',
    headers: auth,
    payload: { force: true, reason: 'holder asked to be listed again' },
  });
  const audit = await app.inject({ url: '/api/trustlist/audit?subject=192.0.2.0%2F24', headers: auth });
  assert.deepEqual(
    audit.json().audit.map((record: { actor: string; action: string }) => `${record.actor}:${record.action}`),
    ['alice:relist', 'alice:delist', 'alice:relist', 'alice:delist', 'alice:update', 'alice:add'],
  );
});

test('complaints find the address in the evidence and delist at the threshold', async (t) => {
  const { app, store } = await api(t);
  store.add({ network: '192.0.2.0/24', category: 3, trust: 2 }, 'op');
  const first = await app.inject({
    method: 'POST',
    url: '/api/trustlist/complaints',
    headers: auth,
    payload: { message, reporter: 'a@r1.test' },
  });
  assert.equal(first.statusCode, 201);
  const body = first.json();
  assert.deepEqual(
    [body.ip, body.network, body.delisted, typeof body.id],
    ['192.0.2.25', '192.0.2.0/24', false, 'number'],
  );
  assert.match(body.authenticationResults, /policy\.iprev=192\.0\.2\.25/);
  const second = await app.inject({
    method: 'POST',
    url: '/api/trustlist/complaints',
    headers: auth,
    payload: {
      ip: '192.0.2.26',
      message: 'Subject: x\r\n\r\ny',
      authentication_results: 'mx; spf=pass',
      reporter: 'b@r2.test',
    },
  });
  assert.equal(second.json().delisted, true);
  const entry = await app.inject({ url: '/api/trustlist/entries/192.0.2.0%2F24', headers: auth });
  assert.equal(entry.json().entry.status, 'delisted');
  assert.equal(entry.json().complaints.length, 2);
  assert.equal(store.complaintsFor('192.0.2.0/24')[1]?.message, message, 'the evidence is kept whole');
});

test('bad requests get catalogue errors, never a stack trace', async (t) => {
  const { app } = await api(t);
  const cases: [string, string, unknown, number, string][] = [
    [
      'POST',
      '/api/trustlist/complaints',
      { message: 'Subject: x\r\n\r\nno trace', reporter: 'r@x.test' },
      400,
      'BAD_REQUEST',
    ],
    ['POST', '/api/trustlist/complaints', { message: '', reporter: 'r' }, 400, 'BAD_REQUEST'],
    [
      'POST',
      '/api/trustlist/entries',
      { network: '192.0.2.1/24', category: 3, trust: 2 },
      400,
      'BAD_REQUEST',
    ],
    [
      'POST',
      '/api/trustlist/entries',
      { network: '192.0.2.0/24', category: 'three', trust: 2 },
      400,
      'BAD_REQUEST',
    ],
    ['DELETE', '/api/trustlist/entries/198.51.100.0%2F24', { reason: 'x' }, 404, 'NOT_FOUND'],
    ['GET', '/api/trustlist/entries?status=gone', undefined, 400, 'BAD_REQUEST'],
  ];
  for (const [method, url, payload, status, code] of cases) {
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers: auth,
      payload: payload as object,
    });
    assert.equal(response.statusCode, status, `${method} ${url}`);
    assert.equal(response.json().error.code, code, `${method} ${url}`);
  }
  const noToken = await app.inject({ url: '/api/trustlist/entries' });
  assert.equal(noToken.statusCode, 401);
  const delistWithoutReason = await app.inject({
    method: 'POST',
    url: '/api/trustlist/entries',
    headers: auth,
    payload: { network: '198.51.100.0/24', category: 3, trust: 1 },
  });
  assert.equal(delistWithoutReason.statusCode, 201);
  const noReason = await app.inject({
    method: 'DELETE',
    url: '/api/trustlist/entries/198.51.100.0%2F24',
    headers: auth,
  });
  assert.equal(noReason.json().error.message, 'a reason is required');
});

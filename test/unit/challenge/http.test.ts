import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ChallengeService } from '../../../src/challenge/service.js';
import { bearerAuth } from '../../../src/http/auth.js';
import { challengeApiRoutes, challengeConfirmRoutes } from '../../../src/http/challenge-routes.js';
import { installErrorHandler } from '../../../src/http/errors.js';
import { ALICE, challengeWorld, STRANGER, statuses } from './world.js';

const TOKEN = 'test-token-0123456789';

/** The app as src/http/app.ts assembles it: confirm pages open, /api behind the bearer token. */
async function app(t: TestContext, service: ChallengeService): Promise<FastifyInstance> {
  const instance = Fastify({ logger: false });
  installErrorHandler(instance);
  await instance.register(challengeConfirmRoutes(service));
  await instance.register(async (api) => {
    api.addHook('onRequest', bearerAuth(TOKEN));
    await api.register(challengeApiRoutes(service));
  });
  t.after(() => instance.close());
  return instance;
}

const auth = { authorization: `Bearer ${TOKEN}` };

test('the confirm link: GET shows a button and changes nothing, POST releases once', async (t) => {
  const world = await challengeWorld(t, { baseUrl: 'https://mail.example.org' });
  const http = await app(t, world.service);
  const queueId = await world.queue(STRANGER, [{ address: ALICE }]);
  const [outcome] = await world.service.afterQueued(queueId, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  const url = /https:\/\/mail\.example\.org(\/challenge\/confirm\/[A-Za-z0-9_-]{43})/.exec(
    outcome?.challenge?.body.toString() ?? '',
  )?.[1];
  assert.ok(url, 'the challenge carries the link');

  const shown = await http.inject({ method: 'GET', url });
  assert.equal(shown.statusCode, 200);
  assert.match(String(shown.headers['content-type']), /text\/html/);
  assert.match(shown.body, /<form method="post"><button type="submit">Release my message<\/button><\/form>/);
  assert.match(shown.body, /alice@example\.org/);
  assert.deepEqual(await statuses(world.store, queueId), ['held'], 'a GET (link scanner) releases nothing');

  // What a browser sends for the button: an empty urlencoded form.
  const posted = await http.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '',
  });
  assert.equal(posted.statusCode, 200);
  assert.match(posted.body, /<h1>Released<\/h1>/);
  assert.deepEqual(await statuses(world.store, queueId), ['queued']);
  assert.deepEqual(
    world.service.whitelist(ALICE).map((e) => e.entry),
    [STRANGER],
  );

  const again = await http.inject({ method: 'POST', url });
  assert.match(again.body, /Already released/);
  assert.match((await http.inject({ method: 'GET', url })).body, /Already released/);

  const unknown = await http.inject({ method: 'POST', url: `/challenge/confirm/${'A'.repeat(43)}` });
  assert.equal(unknown.statusCode, 404);
  assert.match(unknown.body, /Link not valid/);
  const junk = await http.inject({ method: 'GET', url: '/challenge/confirm/%3Cscript%3E' });
  assert.equal(junk.statusCode, 404);
  assert.doesNotMatch(junk.body, /<script>/);
});

test('the operator API: list, release, discard, whitelist, all behind the bearer token', async (t) => {
  const world = await challengeWorld(t);
  const http = await app(t, world.service);
  const first = await world.queue(STRANGER, [{ address: ALICE }]);
  const second = await world.queue('other@remote.example', [{ address: ALICE }]);
  await world.service.afterQueued(first, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  await world.service.afterQueued(second, [{ rcptIndex: 0, user: ALICE }], 'other@remote.example');

  assert.equal((await http.inject({ method: 'GET', url: '/api/challenge' })).statusCode, 401);
  const listed = await http.inject({ method: 'GET', url: `/api/challenge?user=${ALICE}`, headers: auth });
  assert.equal(listed.statusCode, 200);
  const pending = (listed.json() as { pending: Array<{ id: number; queueId: string; sender: string }> })
    .pending;
  assert.deepEqual(
    pending.map((e) => [e.queueId, e.sender]),
    [
      [first, STRANGER],
      [second, 'other@remote.example'],
    ],
  );
  const [one, two] = pending;
  assert.ok(one && two);

  const released = await http.inject({
    method: 'POST',
    url: `/api/challenge/${one.id}/release`,
    headers: auth,
    payload: { whitelist: true },
  });
  assert.equal(released.statusCode, 200);
  assert.deepEqual(released.json(), { pendingId: one.id, queueId: first, recipients: 1 });
  assert.deepEqual(await statuses(world.store, first), ['queued']);
  const releasedAgain = await http.inject({
    method: 'POST',
    url: `/api/challenge/${one.id}/release`,
    headers: auth,
  });
  assert.equal(releasedAgain.statusCode, 404);
  assert.equal((releasedAgain.json() as { error: { code: string } }).error.code, 'NOT_FOUND');

  const discarded = await http.inject({
    method: 'POST',
    url: `/api/challenge/${two.id}/discard`,
    headers: auth,
  });
  assert.deepEqual(discarded.json(), { discarded: two.id });
  assert.equal(await world.store.message(second), undefined, 'its only recipient was held: message removed');
  assert.equal(
    (await http.inject({ method: 'POST', url: '/api/challenge/nope/discard', headers: auth })).statusCode,
    400,
  );

  const added = await http.inject({
    method: 'POST',
    url: '/api/challenge/whitelist',
    headers: auth,
    payload: { user: ALICE, sender: '@friends.example' },
  });
  assert.deepEqual(
    (added.json() as { whitelist: Array<{ entry: string }> }).whitelist.map((e) => e.entry),
    ['friends.example', STRANGER],
  );
  const removed = await http.inject({
    method: 'DELETE',
    url: '/api/challenge/whitelist',
    headers: auth,
    payload: { user: ALICE, sender: STRANGER },
  });
  assert.deepEqual(
    (removed.json() as { whitelist: Array<{ entry: string }> }).whitelist.map((e) => e.entry),
    ['friends.example'],
  );
  const listedWhitelist = await http.inject({
    method: 'GET',
    url: `/api/challenge/whitelist?user=${ALICE}`,
    headers: auth,
  });
  assert.equal((listedWhitelist.json() as { whitelist: unknown[] }).whitelist.length, 1);
  const missing = await http.inject({
    method: 'DELETE',
    url: '/api/challenge/whitelist',
    headers: auth,
    payload: { user: ALICE, sender: STRANGER },
  });
  assert.equal(missing.statusCode, 404);
});

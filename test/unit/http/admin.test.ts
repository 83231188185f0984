import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { hashPassword } from '../../../src/core/password.js';
import { TrustListStore } from '../../../src/trustlist/store.js';
import {
  adminWorld,
  enqueueMessage,
  login,
  postForm,
  sessionCookieOf,
  TOKEN,
} from '../../browser/admin-world.js';

test('a page visit without a session is sent to the login form; an API client gets 401 JSON', async (t) => {
  const { app } = await adminWorld(t);
  const page = await app.inject({ method: 'GET', url: '/admin/queue', headers: { accept: 'text/html' } });
  assert.equal(page.statusCode, 303);
  assert.equal(page.headers.location, '/admin/login');
  const api = await app.inject({ method: 'GET', url: '/admin/dashboard.json' });
  assert.equal(api.statusCode, 401);
  assert.equal(api.json().error.code, 'UNAUTHORIZED');
  const form = await app.inject({ method: 'GET', url: '/admin/login' });
  assert.equal(form.statusCode, 200);
  assert.match(form.body, /name="secret"/);
  assert.match(String(form.headers['content-security-policy']), /script-src 'self'/);
});

test('a wrong token is refused; the right one gives an HttpOnly, SameSite=Strict session', async (t) => {
  const { app } = await adminWorld(t);
  const wrong = await postForm(app, '/admin/login', '', { user: '', secret: `${TOKEN}x` });
  assert.equal(wrong.statusCode, 401);
  assert.match(wrong.body, /Wrong user, password or token/);
  assert.equal(wrong.headers['set-cookie'], undefined);
  const right = await postForm(app, '/admin/login', '', { user: '', secret: TOKEN });
  assert.equal(right.statusCode, 303);
  const setCookie = String(right.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.match(setCookie, /Path=\/admin/);
  const cookie = sessionCookieOf(right.headers['set-cookie']);
  const page = await app.inject({ method: 'GET', url: '/admin', headers: { cookie, accept: 'text/html' } });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /Dashboard/);
});

test('a tampered session cookie is no session', async (t) => {
  const { app } = await adminWorld(t);
  const { cookie } = await login(app);
  const tampered = cookie.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
  const page = await app.inject({
    method: 'GET',
    url: '/admin',
    headers: { cookie: tampered, accept: 'text/html' },
  });
  assert.equal(page.statusCode, 303);
});

test('an admin user logs in with its password; a user without settings.admin cannot', async (t) => {
  const { app, store } = await adminWorld(t);
  const passwordHash = await hashPassword('correct horse');
  await store.addUser({
    address: 'pm@example.org',
    passwordHash,
    settings: { admin: 'true' },
    createdAt: Date.now(),
  });
  await store.addUser({ address: 'user@example.org', passwordHash, settings: {}, createdAt: Date.now() });
  const admin = await postForm(app, '/admin/login', '', { user: 'pm@example.org', secret: 'correct horse' });
  assert.equal(admin.statusCode, 303);
  const cookie = sessionCookieOf(admin.headers['set-cookie']);
  const page = await app.inject({ method: 'GET', url: '/admin', headers: { cookie, accept: 'text/html' } });
  assert.match(page.body, /pm@example\.org/);
  const wrongPassword = await postForm(app, '/admin/login', '', { user: 'pm@example.org', secret: 'wrong' });
  assert.equal(wrongPassword.statusCode, 401);
  const notAdmin = await postForm(app, '/admin/login', '', {
    user: 'user@example.org',
    secret: 'correct horse',
  });
  assert.equal(notAdmin.statusCode, 401);
});

test('a write without the CSRF token is 403 (JSON or HTML) and changes nothing', async (t) => {
  const { app, store } = await adminWorld(t);
  const { cookie, csrf } = await login(app);
  const id = await enqueueMessage(store);
  const asJson = await postForm(app, `/admin/queue/${id}/hold`, cookie, {}, { accept: 'application/json' });
  assert.equal(asJson.statusCode, 403);
  assert.match(asJson.json().error.message, /CSRF/);
  const asHtml = await postForm(app, `/admin/queue/${id}/hold`, cookie, { _csrf: `${csrf}x` });
  assert.equal(asHtml.statusCode, 403);
  assert.match(asHtml.body, /<h1>Error 403<\/h1>/);
  const foreign = await postForm(
    app,
    `/admin/queue/${id}/hold`,
    cookie,
    { _csrf: csrf },
    { origin: 'https://evil.example' },
  );
  assert.equal(foreign.statusCode, 403);
  const message = await store.message(id);
  assert.equal(message?.recipients[0]?.status, 'queued');
});

test('hold, release, requeue and remove change the queue; htmx gets HX-Redirect', async (t) => {
  const { app, store } = await adminWorld(t);
  const { cookie, csrf } = await login(app);
  const id = await enqueueMessage(store, {
    recipients: [{ address: 'a@example.org' }, { address: 'b@example.org' }],
  });

  const hold = await postForm(app, `/admin/queue/${id}/hold`, cookie, { _csrf: csrf });
  assert.equal(hold.statusCode, 303);
  assert.equal(hold.headers.location, `/admin/queue/${id}?done=hold&n=2`);
  assert.deepEqual(
    (await store.message(id))?.recipients.map((r) => r.status),
    ['held', 'held'],
  );

  const release = await postForm(
    app,
    `/admin/queue/${id}/release`,
    cookie,
    {},
    { 'hx-request': 'true', 'x-csrf-token': csrf },
  );
  assert.equal(release.statusCode, 200);
  assert.equal(release.headers['hx-redirect'], `/admin/queue/${id}?done=release&n=2`);
  assert.deepEqual(
    (await store.message(id))?.recipients.map((r) => r.status),
    ['queued', 'queued'],
  );

  await store.setStatus(id, ['queued'], 'failed', 1);
  await postForm(app, `/admin/queue/${id}/requeue`, cookie, { _csrf: csrf });
  assert.equal((await store.message(id))?.recipients[1]?.status, 'queued');

  const notice = await app.inject({
    method: 'GET',
    url: `/admin/queue/${id}?done=hold&n=2`,
    headers: { cookie },
  });
  assert.match(notice.body, /Held: 2 recipient\(s\) changed\./);

  const remove = await postForm(app, `/admin/queue/${id}/remove`, cookie, { _csrf: csrf });
  assert.equal(remove.statusCode, 303);
  assert.equal(await store.message(id), undefined);
  const gone = await postForm(app, `/admin/queue/${id}/hold`, cookie, { _csrf: csrf });
  assert.equal(gone.statusCode, 404);
});

test('the message page shows headers and Authentication-Results, escaped', async (t) => {
  const { app, store } = await adminWorld(t);
  const { cookie } = await login(app);
  const id = await enqueueMessage(store, {
    headers:
      'Authentication-Results: mx.example.org; dkim=pass header.d=sender.example\r\n' +
      'Subject: <script>alert(1)</script>\r\n\tfolded part\r\n',
  });
  const page = await app.inject({ method: 'GET', url: `/admin/queue/${id}`, headers: { cookie } });
  assert.equal(page.statusCode, 200);
  assert.match(
    page.body,
    /<pre class="auth-results">mx\.example\.org; dkim=pass header\.d=sender\.example<\/pre>/,
  );
  assert.match(page.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt; folded part/);
  assert.doesNotMatch(page.body, /<script>alert/);
  assert.match(page.body, /192\.0\.2\.7/);
  const list = await app.inject({
    method: 'GET',
    url: '/admin/queue?recipient=bob@example.org',
    headers: { cookie },
  });
  assert.match(list.body, new RegExp(id));
  const none = await app.inject({ method: 'GET', url: '/admin/queue?status=failed', headers: { cookie } });
  assert.doesNotMatch(none.body, new RegExp(id));
});

test('quarantine lists held and Junk-filed messages and releases the held ones to the queue', async (t) => {
  const { app, store } = await adminWorld(t);
  const { cookie, csrf } = await login(app);
  const held = await enqueueMessage(store, {
    headers: 'X-Outpost-Verdict: quarantine; check=rmx\r\nSubject: suspicious\r\n',
    recipients: [{ status: 'held' }],
  });
  await store.setStatus(held, ['held'], 'quarantined');
  const junk = await enqueueMessage(store, { recipients: [{ folder: 'Junk' }] });
  const page = await app.inject({ method: 'GET', url: '/admin/quarantine', headers: { cookie } });
  assert.match(page.body, new RegExp(`data-queue-id="${held}"`));
  assert.match(page.body, new RegExp(`data-queue-id="${junk}"`));
  assert.match(page.body, /quarantine; check=rmx/);

  const release = await postForm(app, `/admin/quarantine/${held}/release`, cookie, { _csrf: csrf });
  assert.equal(release.statusCode, 303);
  assert.equal((await store.message(held))?.recipients[0]?.status, 'queued');

  const junkRelease = await postForm(app, `/admin/quarantine/${junk}/release`, cookie, { _csrf: csrf });
  assert.equal(junkRelease.statusCode, 303);
  const released = (await store.message(junk))?.recipients[0];
  assert.deepEqual(
    [released?.folder, released?.status],
    ['', 'queued'],
    'moved to the INBOX and queued again',
  );

  const another = await enqueueMessage(store, { recipients: [{ folder: 'Junk' }] });
  const discard = await postForm(app, `/admin/quarantine/${another}/discard`, cookie, { _csrf: csrf });
  assert.equal(discard.statusCode, 303);
  assert.equal(await store.message(another), undefined);
});

test('logout ends the session at once', async (t) => {
  const { app } = await adminWorld(t);
  const { cookie, csrf } = await login(app);
  const out = await postForm(app, '/admin/logout', cookie, { _csrf: csrf });
  assert.equal(out.statusCode, 303);
  assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
  const after = await app.inject({ method: 'GET', url: '/admin', headers: { cookie, accept: 'text/html' } });
  assert.equal(after.statusCode, 303);
});

test('dashboard counters come from the metrics registry and are marked absent without it', async (t) => {
  const registry = new Registry();
  const rejected = new Counter({
    name: 'outpost_messages_rejected_total',
    help: 'rejections',
    labelNames: ['listener', 'reason'],
    registers: [registry],
  });
  rejected.inc({ listener: 'mx', reason: 'rbl' }, 3);
  rejected.inc({ listener: 'sub', reason: 'rbl' }, 1);
  rejected.inc({ listener: 'mx', reason: 'spf' }, 2);
  const { app, store } = await adminWorld(t, { metrics: registry });
  await enqueueMessage(store);
  const { cookie } = await login(app);
  const data = await app.inject({ method: 'GET', url: '/admin/dashboard.json', headers: { cookie } });
  const body = data.json();
  assert.equal(body.counters.available, true);
  assert.deepEqual(body.counters.rejectedByReason, { rbl: 4, spf: 2 });
  assert.equal(body.queue.byStatus.queued, 1);
  assert.ok(body.depth.length >= 1, 'the sampler took its first sample at start');

  const bare = await adminWorld(t, { metrics: new Registry() });
  const bareLogin = await login(bare.app);
  const page = await bare.app.inject({ method: 'GET', url: '/admin', headers: { cookie: bareLogin.cookie } });
  assert.match(page.body, /Counters appear once the metrics module is running/);
  assert.match(page.body, /<script type="application\/json" id="dashboard-data">/);
});

test('assets are served from node_modules and our own folder', async (t) => {
  const { app } = await adminWorld(t);
  for (const name of ['htmx.min.js', 'chart.umd.min.js', 'admin.js', 'admin.css']) {
    const reply = await app.inject({ method: 'GET', url: `/admin/assets/${name}` });
    assert.equal(reply.statusCode, 200, name);
    assert.ok(reply.body.length > 500, `${name} has content`);
  }
  const missing = await app.inject({ method: 'GET', url: '/admin/assets/..%2Fpackage.json' });
  assert.equal(missing.statusCode, 404);
});

test('trust list page: delist with a reason and relist are audited with the operator', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-admin-tl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const trustlist = TrustListStore.open(path.join(dir, 'trustlist.db'));
  t.after(() => trustlist.close());
  trustlist.add({ network: '192.0.2.0/24', category: 3, trust: 2, contact: 'abuse@sender.example' }, 'test');
  const { app } = await adminWorld(t, { trustlist });
  const { cookie, csrf } = await login(app);
  const page = await app.inject({ method: 'GET', url: '/admin/trustlist', headers: { cookie } });
  assert.match(page.body, /192\.0\.2\.0\/24/);
  const noReason = await postForm(app, '/admin/trustlist/delist', cookie, {
    _csrf: csrf,
    network: '192.0.2.0/24',
  });
  assert.equal(noReason.statusCode, 400);
  const delist = await postForm(app, '/admin/trustlist/delist', cookie, {
    _csrf: csrf,
    network: '192.0.2.0/24',
    reason: 'open relay found',
  });
  assert.equal(delist.statusCode, 303);
  assert.equal(trustlist.get('192.0.2.0/24')?.status, 'delisted');
  assert.equal(trustlist.auditLog({ limit: 1 })[0]?.actor, 'admin:token');
  const early = await postForm(app, '/admin/trustlist/relist', cookie, {
    _csrf: csrf,
    network: '192.0.2.0/24',
  });
  assert.equal(early.statusCode, 409, 'the waiting period applies without force');
  const forcedWithoutReason = await postForm(app, '/admin/trustlist/relist', cookie, {
    _csrf: csrf,
    network: '192.0.2.0/24',
    force: 'yes',
  });
  assert.equal(forcedWithoutReason.statusCode, 400, 'relisting early needs a reason');
  await postForm(app, '/admin/trustlist/relist', cookie, {
    _csrf: csrf,
    network: '192.0.2.0/24',
    force: 'yes',
    reason: 'relay closed',
  });
  assert.equal(trustlist.get('192.0.2.0/24')?.status, 'listed');
  const relisted = trustlist.auditLog({ limit: 2 }).find((record) => record.action === 'relist');
  assert.equal((relisted?.after as { note?: string } | undefined)?.note, 'relay closed');
});

test('optional pages appear only when their service is given', async (t) => {
  const { app } = await adminWorld(t);
  const { cookie } = await login(app);
  const page = await app.inject({ method: 'GET', url: '/admin', headers: { cookie } });
  assert.doesNotMatch(page.body, /href="\/admin\/challenge"/);
  assert.doesNotMatch(page.body, /href="\/admin\/trustlist"/);
  assert.doesNotMatch(page.body, /href="\/admin\/im2000"/);
  const challenge = await app.inject({ method: 'GET', url: '/admin/challenge', headers: { cookie } });
  assert.equal(challenge.statusCode, 404);
});

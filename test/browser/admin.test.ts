import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { adminRoutes } from '../../src/http/admin/index.js';
import { installErrorHandler } from '../../src/http/errors.js';
import { fakeInternet } from '../helpers/fake-internet.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token-0123456789';
const SCREENSHOTS = path.resolve('test-output', 'admin');

const skip = existsSync(CHROMIUM) ? false : `Debian's Chromium is not installed at ${CHROMIUM}`;

test('an operator logs in, sees a message sent over SMTP and releases a quarantined one', {
  skip,
}, async (t) => {
  const net = await fakeInternet(t, {
    offices: [{ domain: 'example.org', ip: '127.0.0.1', users: ['bob'] }],
  });
  const office = net.office('example.org');
  const store = office.outpost.store;

  // A message sent by a real SMTP session to the running post office.
  const client = await smtpConnect(office.port, office.ip);
  t.after(() => client.close());
  const reply = await client.sendMail({
    from: 'alice@sender.example',
    to: ['bob@example.org'],
    body: 'From: alice@sender.example\r\nTo: bob@example.org\r\nSubject: seen in the browser\r\n\r\nHello Bob.\r\n',
  });
  assert.equal(reply.code, 250, reply.text);
  const sentId = /queued as (\S+)/.exec(reply.text)?.[1];
  assert.ok(sentId, reply.text);

  // A quarantined message waiting for the operator.
  const quarantinedId = 'QUARANTINEDBROWSER1';
  await store.enqueue({
    id: quarantinedId,
    sender: 'spammy@bulk.example',
    body: Buffer.from(
      'X-Outpost-Verdict: quarantine; check=rmx\r\nSubject: held for review\r\nFrom: spammy@bulk.example\r\n\r\nBuy.\r\n',
    ),
    receivedAt: Date.now(),
    meta: { listener: 'mx' },
    recipients: [{ address: 'bob@example.org', target: 'maildir', status: 'held' }],
  });
  assert.equal(await store.setStatus(quarantinedId, ['held'], 'quarantined'), 1);

  const app = Fastify({ logger: false });
  installErrorHandler(app);
  await app.register(adminRoutes({ store, token: TOKEN, sampleEveryMs: 1000 }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const base = `http://127.0.0.1:${address.port}`;

  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-chromium-'));
  t.after(() => rm(userDataDir, { recursive: true, force: true }));
  await mkdir(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
  t.after(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(10_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });

  const htmxPosts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.headers()['hx-request'] === 'true')
      htmxPosts.push(request.url());
  });

  await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/admin/login', 'logged out: sent to the login form');
  await page.fill('input[name="secret"]', TOKEN);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${base}/admin`);
  await page.waitForSelector('#chart-depth');
  await page.screenshot({ path: path.join(SCREENSHOTS, '1-dashboard.png'), fullPage: true });

  await page.goto(`${base}/admin/queue?sender=alice@sender.example`);
  await page.click(`a:text("${sentId}")`);
  await page.waitForURL(`${base}/admin/queue/${sentId}`);
  assert.match((await page.textContent('main')) ?? '', /seen in the browser/);
  assert.match((await page.textContent('main')) ?? '', /bob@example\.org/);
  await page.screenshot({ path: path.join(SCREENSHOTS, '2-message.png'), fullPage: true });

  await page.goto(`${base}/admin/quarantine`);
  const row = page.locator(`tr[data-queue-id="${quarantinedId}"]`);
  assert.match((await row.textContent()) ?? '', /quarantine; check=rmx/);
  await page.screenshot({ path: path.join(SCREENSHOTS, '3-quarantine.png'), fullPage: true });
  await row.locator('button:text("Release to INBOX")').click();
  await page.waitForURL(/done=release/);
  assert.match((await page.textContent('#flash')) ?? '', /Released: 1 recipient/);
  assert.equal(await page.locator(`tr[data-queue-id="${quarantinedId}"]`).count(), 0);
  await page.screenshot({ path: path.join(SCREENSHOTS, '4-released.png'), fullPage: true });

  assert.deepEqual(htmxPosts, [`${base}/admin/quarantine/${quarantinedId}/release`], 'htmx sent the action');
  const released = await store.message(quarantinedId);
  assert.notEqual(released?.recipients[0]?.status, 'quarantined', 'the store saw the release');
  assert.deepEqual(pageErrors, [], 'no script errors in the pages');
});

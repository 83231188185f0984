import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { listenerSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/core/log.js';
import { hashPassword } from '../../../src/core/password.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { ListenerPolicy } from '../../../src/inbound/policy.js';
import { LocalRecipients } from '../../../src/inbound/recipients.js';
import { submissionHandlers } from '../../../src/inbound/submission.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { createSmtpServer } from '../../../src/protocol/smtp/server.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { Store } from '../../../src/queue/store/types.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { RateLimiter } from '../../../src/ratelimit/limiter.js';
import { smtpOptions } from '../../../src/server/listeners.js';
import { ensureCertificate } from '../../../src/server/tls.js';
import { clamdMissingReason, eicar, startClamd } from '../../helpers/clamd.js';
import { encodeBody, smtpConnect, submissionSession } from '../../helpers/smtp-client.js';

const DOMAIN = 'example.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const PASSWORD = 'correct horse battery';

interface TestSubmission {
  port: number;
  store: Store;
  dataDir: string;
}

/**
 * A submission listener built the way src/server/outpost.ts builds one: the config's listener
 * entry, a real SQLite store and rate-limit database in a temp dir, a self-signed certificate,
 * port 0 on loopback. Users: alice (password PASSWORD, aliases from `aliases`) and bob (no password).
 */
async function startSubmission(
  t: TestContext,
  options: {
    listener?: Record<string, unknown>;
    rateLimits?: Record<string, unknown>;
    aliases?: string;
  } = {},
): Promise<TestSubmission> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-submission-'));
  const cleanups: (() => unknown)[] = [];
  // Last opened, first closed; the directory goes once nothing uses it.
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });
  const listener = listenerSchema.parse({
    name: 'submission',
    profile: 'submission',
    address: '127.0.0.1:0',
    ...options.listener,
  });
  const tls = await ensureCertificate(
    path.join(dataDir, 'cert.pem'),
    path.join(dataDir, 'key.pem'),
    'mx.test',
  );
  const store = await openSqliteStore({
    path: path.join(dataDir, 'queue', 'outpost.db'),
    bodiesDir: path.join(dataDir, 'queue', 'bodies'),
  });
  cleanups.push(() => store.close());
  await store.addUser({
    address: ALICE,
    passwordHash: await hashPassword(PASSWORD),
    settings: options.aliases === undefined ? {} : { aliases: options.aliases },
    createdAt: Date.now(),
  });
  await store.addUser({ address: BOB, settings: {}, createdAt: Date.now() });
  const rateLimiter = new RateLimiter(
    path.join(dataDir, 'ratelimit.db'),
    rateLimitConfigSchema.parse(options.rateLimits ?? {}),
  );
  cleanups.push(() => rateLimiter.close());
  const logger = silentLogger();
  const policy = new ListenerPolicy({
    checks: compileChecks(listener.checks),
    // No check here looks anything up; a resolver pointed at a closed loopback port proves it.
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    dnsBudget: 10,
    softBounce: false,
    refuseAtGreeting: false,
    logger,
  });
  const handlers = submissionHandlers({
    listenerName: listener.name,
    hostname: () => 'mx.test',
    recipients: new LocalRecipients(new Set([DOMAIN]), store),
    store,
    policy,
    logger,
    onQueued: () => undefined,
    rateLimiter,
  });
  const server = createSmtpServer(smtpOptions(listener, 'mx.test', tls), handlers);
  const bound = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close({ timeoutMs: 1000 }));
  return { port: bound.port, store, dataDir };
}

/** base64 of an AUTH PLAIN initial response for this user and password. */
function plain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/** A short message with the given From: header. */
function message(from: string, to = BOB): string {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: hello\r\n\r\nHello there.\r\n`;
}

/** Connects, STARTTLS, EHLO and AUTH PLAIN as alice; the client is ready for MAIL. */
async function loggedIn(t: TestContext, port: number, user = ALICE, password = PASSWORD) {
  const client = await submissionSession(port, '127.0.0.1', { user, password });
  t.after(() => client.close());
  return client;
}

test('STARTTLS + AUTH PLAIN: alice sends to a local and a remote recipient', async (t) => {
  const submission = await startSubmission(t);
  const client = await loggedIn(t, submission.port);
  const reply = await client.sendMail({
    from: ALICE,
    to: [BOB, 'carol@remote.test'],
    body: message(ALICE),
    ehlo: false,
  });
  assert.equal(reply.code, 250, reply.text);
  const rows = await submission.store.list({});
  assert.deepEqual(rows.map((row) => [row.address, row.target]).sort(), [
    [BOB, 'maildir'],
    ['carol@remote.test', 'smtp'],
  ]);
  const [row] = rows;
  assert.ok(row);
  const stored = await submission.store.message(row.messageId);
  assert.equal(stored?.meta.user, ALICE);
  const body = (await submission.store.body(row.messageId))?.toString('utf8') ?? '';
  assert.match(body, /with ESMTPSA id/);
  assert.match(body, /Authentication-Results: mx\.test;\r\n\tauth=pass smtp\.auth=alice@example\.test/);
});

test('AUTH LOGIN works the same', async (t) => {
  const submission = await startSubmission(t);
  const client = await smtpConnect(submission.port);
  t.after(() => client.close());
  await client.send('EHLO client.test');
  await client.startTls();
  await client.send('EHLO client.test');
  assert.equal((await client.send('AUTH LOGIN')).code, 334);
  assert.equal((await client.send(Buffer.from(ALICE).toString('base64'))).code, 334);
  assert.equal((await client.send(Buffer.from(PASSWORD).toString('base64'))).code, 235);
  const reply = await client.sendMail({ from: ALICE, to: [BOB], body: message(ALICE), ehlo: false });
  assert.equal(reply.code, 250, reply.text);
});

test('implicit TLS listener (465 style) takes AUTH at once', async (t) => {
  const submission = await startSubmission(t, { listener: { implicit_tls: true } });
  const client = await smtpConnect(submission.port, '127.0.0.1', { tls: true });
  t.after(() => client.close());
  const ehlo = await client.send('EHLO client.test');
  assert.match(ehlo.text, /AUTH PLAIN LOGIN/);
  assert.equal((await client.send(`AUTH PLAIN ${plain(ALICE, PASSWORD)}`)).code, 235);
});

test('no AUTH before TLS unless allow_insecure_auth', async (t) => {
  const strict = await startSubmission(t);
  const client = await smtpConnect(strict.port);
  t.after(() => client.close());
  const ehlo = await client.send('EHLO client.test');
  assert.doesNotMatch(ehlo.text, /AUTH/);
  const refused = await client.send(`AUTH PLAIN ${plain(ALICE, PASSWORD)}`);
  assert.equal(refused.code, 538);
  assert.equal(refused.enhanced, '5.7.11');
  const mail = await client.send(`MAIL FROM:<${ALICE}>`);
  assert.equal(mail.code, 530);
  assert.equal(mail.enhanced, '5.7.0');
  assert.equal(mail.text, 'Authentication required');

  const loose = await startSubmission(t, { listener: { allow_insecure_auth: true } });
  const plainClient = await smtpConnect(loose.port);
  t.after(() => plainClient.close());
  assert.match((await plainClient.send('EHLO client.test')).text, /AUTH PLAIN LOGIN/);
  assert.equal((await plainClient.send(`AUTH PLAIN ${plain(ALICE, PASSWORD)}`)).code, 235);
});

test('wrong password, unknown user and a user without password all get 535 5.7.8', async (t) => {
  const submission = await startSubmission(t);
  const client = await smtpConnect(submission.port);
  t.after(() => client.close());
  await client.send('EHLO client.test');
  await client.startTls();
  await client.send('EHLO client.test');
  for (const [user, password] of [
    [ALICE, 'wrong password'],
    ['mallory@example.test', PASSWORD],
    [BOB, ''],
  ] as const) {
    const reply = await client.send(`AUTH PLAIN ${plain(user, password)}`);
    assert.equal(reply.code, 535, `${user}: ${reply.text}`);
    assert.equal(reply.enhanced, '5.7.8');
  }
  assert.equal((await client.send(`MAIL FROM:<${ALICE}>`)).code, 530);
});

test('MAIL FROM must be the user or an alias; the null sender is refused', async (t) => {
  const submission = await startSubmission(t, { aliases: 'Sales@example.test, alice@other.test' });
  const client = await loggedIn(t, submission.port);
  const foreign = await client.send(`MAIL FROM:<${BOB}>`);
  assert.equal(foreign.code, 553);
  assert.equal(foreign.enhanced, '5.7.1');
  assert.equal(foreign.text, `Sender address not owned by ${ALICE}`);
  const nullSender = await client.send('MAIL FROM:<>');
  assert.equal(nullSender.code, 553);
  assert.equal(nullSender.enhanced, '5.7.1');
  for (const alias of ['sales@example.test', 'ALICE@other.test']) {
    const reply = await client.sendMail({
      from: alias,
      to: [BOB],
      body: message(`Sales <${alias}>`),
      ehlo: false,
    });
    assert.equal(reply.code, 250, `${alias}: ${reply.text}`);
  }
  assert.equal((await submission.store.list({})).length, 2);
});

test("every From:/Sender: address must be the user's", async (t) => {
  const submission = await startSubmission(t, { aliases: 'sales@example.test' });
  const client = await loggedIn(t, submission.port);
  const cases: [string, number][] = [
    [message('"Alice" <alice@example.test>'), 250],
    [message('Sales Team <sales@example.test>,\r\n Alice <alice@example.test>'), 250],
    [message('"The Boss" <bob@example.test>'), 553],
    [message('alice@example.test, bob@example.test'), 553],
    [`Sender: bob@example.test\r\n${message(ALICE)}`, 553],
    ['To: bob@example.test\r\nSubject: no author\r\n\r\nHi\r\n', 553],
  ];
  for (const [body, code] of cases) {
    const reply = await client.sendMail({ from: ALICE, to: [BOB], body, ehlo: false });
    assert.equal(reply.code, code, `${body.split('\r\n')[0]}: ${reply.text}`);
    if (code === 553) assert.equal(reply.enhanced, '5.7.1');
  }
  assert.equal((await submission.store.list({})).length, 2);
});

test('an authenticated user cannot relay through routing tricks in our domain either', async (t) => {
  const submission = await startSubmission(t);
  const client = await loggedIn(t, submission.port);
  assert.equal((await client.send(`MAIL FROM:<${ALICE}>`)).code, 250);
  for (const trick of [
    'bob%remote.test@example.test',
    'remote.test!bob@example.test',
    '"bob@remote.test"@example.test',
  ]) {
    const reply = await client.send(`RCPT TO:<${trick}>`);
    assert.equal(reply.code, 554, `${trick}: ${reply.text}`);
    assert.equal(reply.enhanced, '5.7.1');
  }
  assert.equal((await client.send('RCPT TO:<nobody@example.test>')).code, 550);
});

test('rate limits: messages per hour and recipients per hour give 450 4.7.1, per message 452 4.5.3', async (t) => {
  const submission = await startSubmission(t, {
    rateLimits: {
      recipients_per_message: 2,
      per_user: { messages_per_hour: 2, recipients_per_hour: 3 },
    },
  });
  const client = await loggedIn(t, submission.port);
  assert.equal((await client.send(`MAIL FROM:<${ALICE}>`)).code, 250);
  assert.equal((await client.send(`RCPT TO:<${BOB}>`)).code, 250);
  assert.equal((await client.send('RCPT TO:<carol@remote.test>')).code, 250);
  const third = await client.send('RCPT TO:<dave@remote.test>');
  assert.equal(third.code, 452);
  assert.equal(third.enhanced, '4.5.3');
  assert.match(third.text, /at most 2 per message/);
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw(encodeBody(message(ALICE)));
  assert.equal((await client.readReply()).code, 250);

  // 2 recipients used of 3 per hour: a second recipient in the next message goes over.
  assert.equal((await client.send(`MAIL FROM:<${ALICE}>`)).code, 250);
  assert.equal((await client.send(`RCPT TO:<${BOB}>`)).code, 250);
  const overHour = await client.send('RCPT TO:<carol@remote.test>');
  assert.equal(overHour.code, 450);
  assert.equal(overHour.enhanced, '4.7.1');
  assert.match(
    overHour.text,
    /^Rate limit for user alice@example\.test: 3 recipients per hour, 2 used in the last hour; try again after \d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/,
  );
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw(encodeBody(message(ALICE)));
  assert.equal((await client.readReply()).code, 250);

  const overMessages = await client.send(`MAIL FROM:<${ALICE}>`);
  assert.equal(overMessages.code, 450);
  assert.equal(overMessages.enhanced, '4.7.1');
  assert.match(overMessages.text, /2 messages per hour, 2 used in the last hour; try again after/);
  assert.equal((await submission.store.list({})).length, 3);
});

test('per-IP limits count every user of one client address', async (t) => {
  const submission = await startSubmission(t, { rateLimits: { per_ip: { messages_per_hour: 1 } } });
  const first = await loggedIn(t, submission.port);
  assert.equal(
    (await first.sendMail({ from: ALICE, to: [BOB], body: message(ALICE), ehlo: false })).code,
    250,
  );
  const second = await loggedIn(t, submission.port);
  const refused = await second.send(`MAIL FROM:<${ALICE}>`);
  assert.equal(refused.code, 450);
  assert.match(refused.text, /^Rate limit for client 127\.0\.0\.1: 1 messages per hour/);
});

test("the listener's checks still run: antivirus refuses an infected submission", {
  skip: clamdMissingReason() ?? false,
}, async (t) => {
  const clamd = await startClamd(t);
  const submission = await startSubmission(t, {
    listener: { checks: [{ use: 'antivirus', address: clamd.address, on: { fail: 'reject' } }] },
  });
  const client = await loggedIn(t, submission.port);
  // clamd matches the EICAR file itself, so it travels as an attachment, the way viruses do.
  const infected =
    `From: ${ALICE}\r\nTo: ${BOB}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n` +
    '--b1\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n--b1\r\n' +
    'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="invoice.com"\r\n' +
    `Content-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n--b1--\r\n`;
  const reply = await client.sendMail({ from: ALICE, to: [BOB], body: infected, ehlo: false });
  assert.equal(reply.code, 550, reply.text);
  const clean = await client.sendMail({ from: ALICE, to: [BOB], body: message(ALICE), ehlo: false });
  assert.equal(clean.code, 250, clean.text);
  assert.equal((await submission.store.list({})).length, 1);
});

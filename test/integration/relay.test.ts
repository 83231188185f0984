// Mixed local and remote delivery end to end: two whole outposts (startOutpost) on their own
// loopback addresses, A = a.example on 127.0.0.2 and B = b.example on 127.0.0.3, resolving through
// our DNS server (MX, A, PTR and A's DKIM keys). A user of A submits over STARTTLS + AUTH PLAIN;
// A delivers its local copy to its own Maildir and the remote one by MX lookup to B, signed with
// the keys `outpost dkim keygen` would have written; B's dkim check verifies them.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import { hashPassword } from '../../src/core/password.js';
import { ensureMailbox } from '../../src/delivery/maildir/index.js';
import {
  type DkimAlgorithm,
  dkimRecordName,
  dkimTxtRecord,
  generateDkimKey,
  saveDkimKey,
  selectorsFor,
} from '../../src/dkim/keys.js';
import { reverseName } from '../../src/dns/names.js';
import type { RecipientRow } from '../../src/queue/store/types.js';
import { dataLayout, type RunningOutpost, startOutpost } from '../../src/server/outpost.js';
import { startTestDns } from '../helpers/dns.js';
import { freePort, waitFor } from '../helpers/net.js';
import { submissionSession } from '../helpers/smtp-client.js';

const A = { domain: 'a.example', host: 'mx.a.example', ip: '127.0.0.2' };
const B = { domain: 'b.example', host: 'mx.b.example', ip: '127.0.0.3' };
const ALICE = 'alice@a.example';
const ANNA = 'anna@a.example';
const BOB = 'bob@b.example';
const PASSWORD = 'correct horse battery staple';
const HTTP_TOKEN = 'relay-test-token-0123';

/** Writes A's DKIM keys as `outpost dkim keygen a.example` does; returns their DNS records. */
async function keygen(dataDir: string, domain: string): Promise<string[]> {
  const algorithms: DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];
  const selectors = selectorsFor(algorithms, undefined, Date.now());
  const records: string[] = [];
  for (const [index, algorithm] of algorithms.entries()) {
    const selector = selectors[index] ?? '';
    const key = await generateDkimKey(algorithm);
    await saveDkimKey(dataDir, domain, selector, key);
    records.push(`${dkimRecordName(selector, domain)}. TXT "${dkimTxtRecord(key)}"`);
  }
  return records;
}

/** The world's DNS: MX and A of both domains, the hosts' PTRs, and extra records (DKIM keys). */
function worldZone(extra: string[]): string {
  const lines: string[] = [];
  for (const office of [A, B]) {
    lines.push(`$ORIGIN ${office.domain}.`, `@ MX 10 ${office.host}.`, `${office.host}. A ${office.ip}`);
  }
  lines.push(...extra, '$ORIGIN 127.in-addr.arpa.');
  for (const office of [A, B]) lines.push(`${reverseName(office.ip)}. PTR ${office.host}.`);
  return `${lines.join('\n')}\n`;
}

interface Office {
  config: Config;
  outpost: RunningOutpost;
  /** Message files in a user's INBOX new/, oldest first. */
  inbox(address: string): Promise<string[]>;
  /** The bound port of a listener by name. */
  port(listener: string): number;
}

async function startOffice(t: TestContext, config: Config): Promise<Office> {
  const outpost = await startOutpost(config, silentLogger());
  let stopped = false;
  const stop = outpost.stop.bind(outpost);
  outpost.stop = async (options) => {
    if (stopped) return;
    stopped = true;
    await stop(options);
  };
  // node:test runs after-hooks in the order they were added: stop first, then remove its data.
  t.after(async () => {
    await outpost.stop({ timeoutMs: 1000 });
    await rm(config.data_dir, { recursive: true, force: true });
  });
  const mail = dataLayout(config).mail;
  return {
    config,
    outpost,
    async inbox(address) {
      const [user = '', domain = ''] = address.split('@');
      const dir = path.join(mail, domain, user, 'new');
      const names = await readdir(dir).catch(() => [] as string[]);
      return names.sort().map((name) => path.join(dir, name));
    },
    port(listener) {
      const bound = outpost.listening.find((entry) => entry.name === listener);
      if (!bound) throw new Error(`no listener ${listener}`);
      return bound.port;
    },
  };
}

/** A data folder; the office started on it removes it after stopping. */
function tempDir(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `outpost-relay-${name}-`));
}

/** Mailboxes for local users (kept across a restart); `password` makes the first one a submission user. */
async function addUsers(office: Office, users: string[], password?: string): Promise<void> {
  for (const [index, address] of users.entries()) {
    if (await office.outpost.store.getUser(address)) continue;
    await ensureMailbox(dataLayout(office.config).mail, address);
    await office.outpost.store.addUser({
      address,
      settings: {},
      createdAt: Date.now(),
      ...(index === 0 && password !== undefined ? { passwordHash: await hashPassword(password) } : {}),
    });
  }
}

interface World {
  a: Office;
  /** B as it runs now; `startB` starts it (again, on the same data) after `stopB`. */
  b(): Office;
  startB(): Promise<Office>;
  stopB(): Promise<void>;
}

/** DNS, A (submission + mx, DKIM keys) and B (mx with the dkim check), each with its users. */
async function startWorld(t: TestContext): Promise<World> {
  const aData = await tempDir('a');
  const bData = await tempDir('b');
  const records = await keygen(aData, A.domain);
  const dns = await startTestDns(t, worldZone(records));
  // Both MX hosts listen on this one port, each on its own address, as on port 25.
  const mxPort = await freePort();
  const common = (office: typeof A, dataDir: string) => ({
    hostname: office.host,
    data_dir: dataDir,
    domains: [office.domain],
    log_level: 'silent',
    http: { address: `${office.ip}:0`, token: HTTP_TOKEN },
    dns: { servers: [dns.serverAddress], timeout: '1s' },
  });
  const aConfig = parseConfig(
    {
      ...common(A, aData),
      listeners: [
        { name: 'mx', profile: 'mx', address: `${A.ip}:${mxPort}` },
        { name: 'submission', profile: 'submission', address: `${A.ip}:0` },
      ],
      // B's MX listens on mxPort, not 25; a long first retry so only a flush can redeliver.
      delivery: { smtp: { port: mxPort, connect_timeout: '2s' } },
      queue: { retry: ['1h'], poll: '200ms' },
    },
    '<relay test: a.example>',
    {},
  );
  const bConfig = parseConfig(
    {
      ...common(B, bData),
      listeners: [{ name: 'mx', profile: 'mx', address: `${B.ip}:${mxPort}`, checks: [{ use: 'dkim' }] }],
    },
    '<relay test: b.example>',
    {},
  );
  const a = await startOffice(t, aConfig);
  await addUsers(a, [ALICE, ANNA], PASSWORD);
  let b: Office | undefined;
  const world: World = {
    a,
    b() {
      if (!b) throw new Error('B is not running');
      return b;
    },
    async startB() {
      b = await startOffice(t, bConfig);
      await addUsers(b, [BOB]);
      return b;
    },
    async stopB() {
      await b?.outpost.stop({ timeoutMs: 1000 });
      b = undefined;
    },
  };
  await world.startB();
  return world;
}

/** Submits one message as alice at A: STARTTLS, AUTH PLAIN, MAIL, RCPTs, DATA; the final reply. */
async function submit(t: TestContext, a: Office, to: string[], subject: string) {
  const client = await submissionSession(a.port('submission'), A.ip, {
    user: ALICE,
    password: PASSWORD,
    ehlo: 'client.a.example',
  });
  t.after(() => client.close());
  const body = [
    `From: Alice <${ALICE}>`,
    `To: ${to.join(', ')}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '-')}@a.example>`,
    '',
    'Hello from A.',
    '',
  ].join('\r\n');
  const reply = await client.sendMail({ from: ALICE, to, body, ehlo: false });
  await client.send('QUIT').catch(() => undefined);
  return reply;
}

/** The recipient rows of A's queue for one address. */
function rowsFor(a: Office, address: string): Promise<RecipientRow[]> {
  return a.outpost.store.list({ recipient: address, limit: 100 });
}

/** Waits until a mailbox holds at least `count` messages and returns their texts. */
async function messages(office: Office, address: string, count = 1): Promise<string[]> {
  const files = await waitFor(`${count} message(s) for ${address}`, async () => {
    const found = await office.inbox(address);
    return found.length >= count ? found : undefined;
  });
  return Promise.all(files.map((file) => readFile(file, 'utf8')));
}

/** The header block of a message. */
function headers(message: string): string {
  const end = message.search(/\r?\n\r?\n/);
  return end < 0 ? message : message.slice(0, end);
}

test("one submission, a local and a remote recipient: both delivered, B verifies A's DKIM signatures", async (t) => {
  const world = await startWorld(t);
  const reply = await submit(t, world.a, [ANNA, BOB], 'mixed delivery');
  assert.equal(reply.code, 250, reply.text);

  const [local] = await messages(world.a, ANNA);
  assert.match(local ?? '', /Subject: mixed delivery/);
  // A's own copy never went through the smtp target: not signed.
  assert.doesNotMatch(headers(local ?? ''), /^DKIM-Signature:/im);

  const [remote = ''] = await messages(world.b(), BOB);
  const head = headers(remote);
  assert.match(remote, /Subject: mixed delivery/);
  assert.match(head, /^DKIM-Signature:.*\bd=a\.example\b/ims);
  const signatures = head.match(/^DKIM-Signature:/gim) ?? [];
  assert.equal(signatures.length, 2, 'one RSA and one Ed25519 signature');
  // B's Authentication-Results: both of A's signatures verify against the keys in our DNS.
  const results = head.match(/^Authentication-Results:[^\n]*(?:\n[ \t][^\n]*)*/im)?.[0] ?? '';
  assert.match(results, /^Authentication-Results: mx\.b\.example;/i);
  assert.match(results, /dkim=pass[^;]*header\.d=a\.example[^;]*header\.a=rsa-sha256/);
  assert.match(results, /dkim=pass[^;]*header\.d=a\.example[^;]*header\.a=ed25519-sha256/);
  assert.doesNotMatch(results, /dkim=(fail|permerror|temperror|neutral)/);

  const [bobRow] = await rowsFor(world.a, BOB);
  assert.equal(bobRow?.status, 'delivered');
  assert.equal(bobRow?.target, 'smtp');
  assert.equal((await rowsFor(world.a, ANNA))[0]?.target, 'maildir');
});

test("a recipient B refuses with 550 comes back as a DSN in the sender's Maildir at A", async (t) => {
  const world = await startWorld(t);
  const reply = await submit(t, world.a, [BOB, 'nobody@b.example'], 'partly refused');
  assert.equal(reply.code, 250, reply.text);

  await messages(world.b(), BOB);
  const [dsn = ''] = await messages(world.a, ALICE);
  assert.match(dsn, /^Content-Type: multipart\/report;[^\n]*(?:\n[ \t][^\n]*)*report-type=delivery-status/im);
  assert.match(dsn, /^Final-Recipient: rfc822;\s*nobody@b\.example/im);
  assert.match(dsn, /^Action: failed/im);
  assert.match(dsn, /^Status: 5\.\d+\.\d+/im);
  assert.match(dsn, /^Diagnostic-Code: smtp;\s*550/im);
  assert.match(dsn, /Subject: partly refused/);
  assert.equal(dsn.match(/^Final-Recipient:/gim)?.length, 1, 'only the refused recipient is reported');
  // RFC 3464 2.3.5: a DSN about a relay attempt over SMTP must name the remote MTA.
  await t.test('the DSN names B as Remote-MTA', () => {
    assert.match(dsn, /^Remote-MTA: dns;\s*mx\.b\.example/im);
  });
  // The bounce has the null sender and is not sent anywhere else.
  assert.equal((await rowsFor(world.a, 'nobody@b.example'))[0]?.status, 'failed');
  assert.equal((await world.a.inbox(ALICE)).length, 1);
});

test('B down: A defers; B back and a flush over the HTTP API: delivered exactly once', async (t) => {
  const world = await startWorld(t);
  await world.stopB();
  const reply = await submit(t, world.a, [BOB], 'while b was down');
  assert.equal(reply.code, 250, reply.text);

  const deferred = await waitFor('a deferred row for bob', async () => {
    const [row] = await rowsFor(world.a, BOB);
    return row?.status === 'deferred' ? row : undefined;
  });
  assert.equal(deferred.attempts, 1);
  assert.ok(deferred.nextAttemptAt > Date.now() + 30 * 60_000, 'the next try waits for the retry schedule');

  const b = await world.startB();
  assert.deepEqual(await b.inbox(BOB), [], 'nothing arrives before the flush');
  const http = world.a.outpost.listening.find((entry) => entry.name === 'http');
  const flushed = await fetch(`http://${A.ip}:${http?.port}/api/queue/flush`, {
    method: 'POST',
    headers: { authorization: `Bearer ${HTTP_TOKEN}` },
  });
  assert.equal(flushed.status, 200);
  assert.deepEqual(await flushed.json(), { action: 'flush', changed: 1 });

  const [copy = ''] = await messages(b, BOB);
  assert.match(copy, /Subject: while b was down/);
  const delivered = await waitFor("bob delivered in A's queue", async () => {
    const [row] = await rowsFor(world.a, BOB);
    return row?.status === 'delivered' ? row : undefined;
  });
  assert.equal(delivered.attempts, 2);
  // A second flush finds nothing to do, and B still holds one copy.
  const again = await fetch(`http://${A.ip}:${http?.port}/api/queue/flush`, {
    method: 'POST',
    headers: { authorization: `Bearer ${HTTP_TOKEN}` },
  });
  assert.deepEqual(await again.json(), { action: 'flush', changed: 0 });
  assert.equal((await b.inbox(BOB)).length, 1);
  assert.deepEqual(await world.a.inbox(ALICE), [], 'no bounce or delay notice for the sender');
});

// The SMTP <-> IM2000 gateway through the assembled server: three whole outposts (startOutpost) on
// their own loopback addresses, resolving through our DNS server. A (a.example) and B (b.example)
// run IM2000 post offices with prefer_for_smtp, each serving a certificate for its host name signed
// by a test CA that both trust (ca_file); C (c.example) publishes only an MX. Each post office
// generates its signing key at first start; the test reads it back and publishes it before any
// mail is sent. A user of A submits over STARTTLS + AUTH PLAIN: mail for bob@b.example leaves as
// IM2000 (B pulls it, A gets a receipt), mail for carol@c.example leaves by SMTP.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import { hashPassword } from '../../src/core/password.js';
import { ensureMailbox } from '../../src/delivery/maildir/index.js';
import { createDemoCa, type Pem, serverCertificate } from '../../src/demo/certificates.js';
import { portFreeOnAll } from '../../src/demo/ports.js';
import { reverseName } from '../../src/dns/names.js';
import { parseZoneFile } from '../../src/dns/zonefile.js';
import { im2000DnsRecords, loadSigningKey, SIGNING_KEY_FILE } from '../../src/im2000/keys.js';
import type { RecipientRow } from '../../src/queue/store/types.js';
import { dataLayout, type RunningOutpost, startOutpost } from '../../src/server/outpost.js';
import { startTestDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/net.js';
import { submissionSession } from '../helpers/smtp-client.js';

interface Site {
  domain: string;
  host: string;
  ip: string;
  /** Runs an IM2000 post office and publishes it (SRV + key TXT). */
  im2000: boolean;
}

const A: Site = { domain: 'a.example', host: 'mx.a.example', ip: '127.0.0.2', im2000: true };
const B: Site = { domain: 'b.example', host: 'mx.b.example', ip: '127.0.0.3', im2000: true };
const C: Site = { domain: 'c.example', host: 'mx.c.example', ip: '127.0.0.4', im2000: false };
const SITES = [A, B, C];
const ALICE = 'alice@a.example';
const BOB = 'bob@b.example';
const CAROL = 'carol@c.example';
const PASSWORD = 'correct horse battery staple';
const HTTP_TOKEN = 'im2000-assembled-token-0123';
const CA_FILE = 'test-ca.pem';
const REQUEST_TIMEOUT_MS = 10_000;

/** Ports every site listens on, each at its own address, as on the Internet. */
interface Ports {
  smtp: number;
  im2000: number;
}

/**
 * MX, A and PTR (for B's FCrDNS notice policy) of every site; SRV of the IM2000 sites; extra lines
 * (keys). Each zone has an SOA, so "no `_im2000._tcp` at c.example" is an ordinary negative answer.
 */
function worldZone(ports: Ports, extra: string[]): string {
  const lines: string[] = [];
  for (const site of SITES) {
    lines.push(
      `$ORIGIN ${site.domain}.`,
      `@ SOA ns.${site.domain}. hostmaster.${site.domain}. 1 3600 600 86400 60`,
      `@ MX 10 ${site.host}.`,
      `${site.host}. A ${site.ip}`,
    );
    if (site.im2000) lines.push(`_im2000._tcp 60 SRV 10 0 ${ports.im2000} ${site.host}.`);
  }
  lines.push(...extra, '$ORIGIN 127.in-addr.arpa.');
  for (const site of SITES) lines.push(`${reverseName(site.ip)}. PTR ${site.host}.`);
  return `${lines.join('\n')}\n`;
}

/** The config of one site: submission at A, an MX listener at B and C, IM2000 where the site runs it. */
function siteConfig(site: Site, dataDir: string, dnsAddress: string, ports: Ports): Config {
  const listeners =
    site === A
      ? [{ name: 'submission', profile: 'submission', address: `${site.ip}:0` }]
      : [{ name: 'mx', profile: 'mx', address: `${site.ip}:${ports.smtp}` }];
  return parseConfig(
    {
      hostname: site.host,
      data_dir: dataDir,
      domains: [site.domain],
      log_level: 'silent',
      http: { address: `${site.ip}:0`, token: HTTP_TOKEN },
      dns: { servers: [dnsAddress], timeout: '1s' },
      listeners,
      delivery: { smtp: { port: ports.smtp, local_address: site.ip, connect_timeout: '2s' } },
      queue: { retry: ['1h'], poll: '200ms' },
      ...(site.im2000
        ? {
            im2000: {
              enabled: true,
              notice_retry: ['1s'],
              address: `${site.ip}:${ports.im2000}`,
              public_base_url: `https://${site.host}:${ports.im2000}`,
              ca_file: CA_FILE,
              prefer_for_smtp: true,
            },
          }
        : {}),
    },
    `<im2000 assembled test: ${site.domain}>`,
    {},
  );
}

/** The certificate for the site's host name, signed by the test CA, where [tls] expects it; the CA as ca_file. */
async function installCertificate(config: Config, ca: Pem, site: Site): Promise<void> {
  const pem = await serverCertificate(ca, [site.host]);
  const layout = dataLayout(config);
  await mkdir(path.dirname(layout.cert), { recursive: true });
  await writeFile(layout.key, pem.key, { mode: 0o600 });
  await writeFile(layout.cert, pem.cert);
  await writeFile(path.join(config.data_dir, CA_FILE), ca.cert);
}

interface Office {
  site: Site;
  config: Config;
  /** Replaced when the office is started again (World.takeDown). */
  outpost: RunningOutpost;
  /** The bound port of a listener by name. */
  port(listener: string): number;
  /** Message files in a user's INBOX new/, oldest first. */
  inbox(address: string): Promise<string[]>;
}

async function addUser(office: Office, address: string, password?: string): Promise<void> {
  await ensureMailbox(dataLayout(office.config).mail, address);
  await office.outpost.store.addUser({
    address,
    settings: {},
    createdAt: Date.now(),
    ...(password === undefined ? {} : { passwordHash: await hashPassword(password) }),
  });
}

function office(site: Site, config: Config, outpost: RunningOutpost): Office {
  const mail = dataLayout(config).mail;
  return {
    site,
    config,
    outpost,
    port(listener) {
      const bound = this.outpost.listening.find((entry) => entry.name === listener);
      if (!bound) throw new Error(`no listener ${listener} at ${site.domain}`);
      return bound.port;
    },
    async inbox(address) {
      const [user = '', domain = ''] = address.split('@');
      const dir = path.join(mail, domain, user, 'new');
      const names = await readdir(dir).catch(() => [] as string[]);
      return names.sort().map((name) => path.join(dir, name));
    },
  };
}

interface World {
  a: Office;
  b: Office;
  c: Office;
  ca: Pem;
  /** Stops an office (its post office and listeners go away) and returns a function that starts it again. */
  takeDown(office: Office): Promise<() => Promise<void>>;
}

/**
 * DNS first (without keys), then the three outposts (the post offices make their keys at start),
 * then the keys read back from the data dirs and published. One clean-up, registered before the
 * DNS server's, stops the outposts and removes their folders before the DNS server closes.
 */
async function startWorld(t: TestContext): Promise<World> {
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  const root = await mkdtemp(path.join(os.tmpdir(), 'outpost-im2000-assembled-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const hosts = SITES.map((site) => site.ip);
  const smtp = await portFreeOnAll(hosts);
  let im2000 = await portFreeOnAll(hosts);
  while (im2000 === smtp) im2000 = await portFreeOnAll(hosts);
  const ports = { smtp, im2000 };
  const dns = await startTestDns(t, worldZone(ports, []));
  const ca = await createDemoCa();

  const offices = new Map<Site, Office>();
  for (const site of SITES) {
    const dataDir = path.join(root, site.domain);
    await mkdir(dataDir, { recursive: true });
    const config = siteConfig(site, dataDir, dns.serverAddress, ports);
    await installCertificate(config, ca, site);
    const outpost = await startOutpost(config, silentLogger());
    cleanups.push(() => outpost.stop({ timeoutMs: 1000 }));
    offices.set(site, office(site, config, outpost));
  }

  const keyRecords: string[] = [];
  for (const site of SITES.filter((candidate) => candidate.im2000)) {
    const dataDir = offices.get(site)?.config.data_dir ?? '';
    const key = await loadSigningKey(path.join(dataDir, SIGNING_KEY_FILE));
    const [, keyRecord = ''] = im2000DnsRecords({
      domain: site.domain,
      postOfficeHost: site.host,
      port: ports.im2000,
      key,
      ttl: 60,
    });
    keyRecords.push(keyRecord);
  }
  dns.server.zones.replaceAll(
    parseZoneFile(worldZone(ports, keyRecords), { fileName: 'test zone with keys', defaultTtl: 300 }),
  );

  const [a, b, c] = SITES.map((site) => {
    const found = offices.get(site);
    if (!found) throw new Error(`${site.domain} did not start`);
    return found;
  });
  if (!a || !b || !c) throw new Error('the world needs three offices');
  await addUser(a, ALICE, PASSWORD);
  await addUser(b, BOB);
  await addUser(c, CAROL);
  const takeDown = async (down: Office): Promise<() => Promise<void>> => {
    await down.outpost.stop({ timeoutMs: 1000 });
    return async () => {
      // The same config, data dir and ports: the office comes back as it was.
      const again = await startOutpost(down.config, silentLogger());
      cleanups.push(() => again.stop({ timeoutMs: 1000 }));
      down.outpost = again;
    };
  };
  return { a, b, c, ca, takeDown };
}

/** Submits one message as alice at A: STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA; the final reply. */
async function submit(t: TestContext, a: Office, to: string, subject: string) {
  const client = await submissionSession(a.port('submission'), A.ip, {
    user: ALICE,
    password: PASSWORD,
    ehlo: 'client.a.example',
  });
  t.after(() => client.close());
  const body = [
    `From: Alice <${ALICE}>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '-')}@a.example>`,
    '',
    'Hello from A.',
    '',
  ].join('\r\n');
  const reply = await client.sendMail({ from: ALICE, to: [to], body, ehlo: false });
  await client.send('QUIT').catch(() => undefined);
  return reply;
}

/** Waits until A's queue row for `address` is final and returns it. */
function finalRow(a: Office, address: string): Promise<RecipientRow> {
  return waitFor(`a final queue row for ${address} at A`, async () => {
    const [row] = await a.outpost.store.list({ recipient: address, limit: 10 });
    return row && ['delivered', 'failed', 'expired'].includes(row.status) ? row : undefined;
  });
}

/** Waits until a mailbox holds a message and returns its text. */
async function arrived(office: Office, address: string): Promise<string> {
  const [file] = await waitFor(`a message for ${address}`, async () => {
    const found = await office.inbox(address);
    return found.length > 0 ? found : undefined;
  });
  return readFile(file ?? '', 'utf8');
}

/** The header block of a message. */
function headers(message: string): string {
  const end = message.search(/\r?\n\r?\n/);
  return end < 0 ? message : message.slice(0, end);
}

interface RecipientStatus {
  address: string;
  status: string;
  lastError?: string;
}

/** GET /api/im2000/:id on A's post office: HTTPS to mx.a.example, certificate checked against the test CA. */
function im2000Status(world: World, id: string): Promise<{ status: number; recipients: RecipientStatus[] }> {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: A.ip,
      port: world.a.port('im2000'),
      servername: A.host,
      ca: world.ca.cert,
      path: `/api/im2000/${encodeURIComponent(id)}`,
      headers: { host: `${A.host}:${world.a.port('im2000')}`, authorization: `Bearer ${HTTP_TOKEN}` },
      timeout: REQUEST_TIMEOUT_MS,
      agent: false,
    });
    request.on('timeout', () => request.destroy(new Error('status request timed out')));
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            recipients?: RecipientStatus[];
          };
          resolve({ status: response.statusCode ?? 0, recipients: body.recipients ?? [] });
        } catch (error) {
          reject(error);
        }
      });
    });
    request.end();
  });
}

/** A call to the node's main HTTP API (bearer token), answered with its status and JSON body. */
async function mainApi(office: Office, method: 'GET' | 'POST', apiPath: string) {
  const main = office.outpost.listening.find((entry) => entry.name === 'http');
  assert.ok(main);
  const response = await fetch(`http://${main.address}:${main.port}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${HTTP_TOKEN}` },
  });
  return { status: response.status, body: (await response.json()) as { recipients?: RecipientStatus[] } };
}

/** The IM2000 message id that A's queue row for `address` names, once the gateway stored it. */
async function storedId(a: Office, address: string): Promise<string> {
  const row = await finalRow(a, address);
  assert.equal(row.target, 'post-office');
  const id = /Stored for IM2000 pickup as (\S+)/.exec(row.lastReply ?? '')?.[1];
  assert.ok(id, `the queue row names the IM2000 message id: ${row.lastReply}`);
  return id;
}

test('submission to a domain with a post office leaves as IM2000: B pulls it, A gets the receipt', async (t) => {
  const world = await startWorld(t);
  const reply = await submit(t, world.a, BOB, 'lunch via im2000');
  assert.equal(reply.code, 250, reply.text);

  const row = await finalRow(world.a, BOB);
  assert.equal(row.target, 'post-office', 'b.example publishes _im2000._tcp: the gateway takes the mail');
  assert.equal(row.status, 'delivered', row.lastReply);
  const id = /Stored for IM2000 pickup as (\S+)/.exec(row.lastReply ?? '')?.[1];
  assert.ok(id, `the queue row names the IM2000 message id: ${row.lastReply}`);

  const message = await arrived(world.b, BOB);
  const head = headers(message);
  assert.match(message, /Subject: lunch via im2000/);
  assert.match(message, /Hello from A\./);
  const trace = head.match(/^Received:[^\n]*(?:\n[ \t][^\n]*)*/im)?.[0] ?? '';
  assert.match(
    trace,
    /^Received: from mx\.a\.example \(\[127\.0\.0\.2\]\) by mx\.b\.example with IM2000 id /,
  );
  assert.match(trace, new RegExp(`with IM2000 id ${id}\\b`));
  assert.match(trace, /for <bob@b\.example>/);

  const receipted = await waitFor("a receipted status for bob at A's post office", async () => {
    const answer = await im2000Status(world, id);
    assert.equal(answer.status, 200);
    const bob = answer.recipients.find((recipient) => recipient.address === BOB);
    return bob?.status === 'receipted' ? bob : undefined;
  });
  assert.equal(receipted.lastError, undefined);
  // The same status on the node's main HTTP API.
  const main = world.a.outpost.listening.find((entry) => entry.name === 'http');
  assert.ok(main);
  const onMainApi = await fetch(`http://${main.address}:${main.port}/api/im2000/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${HTTP_TOKEN}` },
  });
  assert.equal(onMainApi.status, 200);
  const status = (await onMainApi.json()) as { recipients: { address: string; status: string }[] };
  assert.equal(status.recipients.find((recipient) => recipient.address === BOB)?.status, 'receipted');
  // It arrived once, by IM2000 only: nothing went to B by SMTP, and no notice came back to alice.
  assert.equal((await world.b.inbox(BOB)).length, 1);
  assert.deepEqual(await world.a.inbox(ALICE), [], 'no bounce or delay notice for the sender');
});

test('submission to a domain without a post office leaves by SMTP', async (t) => {
  const world = await startWorld(t);
  const reply = await submit(t, world.a, CAROL, 'plain smtp to c');
  assert.equal(reply.code, 250, reply.text);

  const row = await finalRow(world.a, CAROL);
  assert.equal(row.target, 'smtp', 'c.example publishes no _im2000._tcp: the mail stays SMTP');
  assert.equal(row.status, 'delivered', row.lastReply);

  const message = await arrived(world.c, CAROL);
  assert.match(message, /Subject: plain smtp to c/);
  const head = headers(message);
  assert.doesNotMatch(head, /with IM2000/);
  assert.match(head, /^Received: from \S+ \(.*127\.0\.0\.2.*\)[^\n]*(?:\n[ \t][^\n]*)*by mx\.c\.example/im);
  assert.deepEqual(await world.a.inbox(ALICE), [], 'no bounce or delay notice for the sender');
});

test("the receiver's post office is down: A keeps the message, notices again, and B pulls it once it is back", async (t) => {
  const world = await startWorld(t);
  const bringBack = await world.takeDown(world.b);
  assert.equal((await submit(t, world.a, BOB, 'while b was down')).code, 250);
  const id = await storedId(world.a, BOB);
  const failing = await waitFor('a failed notice to the stopped post office', async () => {
    const { body } = await mainApi(world.a, 'GET', `/api/im2000/${encodeURIComponent(id)}`);
    const bob = body.recipients?.find((recipient) => recipient.address === BOB);
    return bob?.lastError ? bob : undefined;
  });
  assert.equal(failing.status, 'pending', 'nothing was noticed yet');

  await bringBack();
  const message = await arrived(world.b, BOB);
  assert.match(message, /Subject: while b was down/);
  await waitFor('the receipt', async () => {
    const { body } = await mainApi(world.a, 'GET', `/api/im2000/${encodeURIComponent(id)}`);
    return (
      body.recipients?.find((recipient) => recipient.address === BOB)?.status === 'receipted' || undefined
    );
  });
  assert.equal((await world.b.inbox(BOB)).length, 1, 'pulled once, however many notices went out');
});

test('a message recalled while the receiver is down never reaches it', async (t) => {
  const world = await startWorld(t);
  const bringBack = await world.takeDown(world.b);
  assert.equal((await submit(t, world.a, BOB, 'sent by mistake')).code, 250);
  const id = await storedId(world.a, BOB);
  const recall = await mainApi(world.a, 'POST', `/api/im2000/${encodeURIComponent(id)}/recall`);
  assert.equal(recall.status, 200);
  assert.equal(recall.body.recipients?.find((recipient) => recipient.address === BOB)?.status, 'recalled');

  await bringBack();
  // Notices go out every second ([im2000] notice_retry): three rounds are enough to be sure.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  assert.deepEqual(await world.b.inbox(BOB), [], 'no notice went out for a recalled recipient');
  const { body } = await mainApi(world.a, 'GET', `/api/im2000/${encodeURIComponent(id)}`);
  assert.equal(body.recipients?.find((recipient) => recipient.address === BOB)?.status, 'recalled');
});

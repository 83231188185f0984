// The two-tier MX end to end on loopback: our DNS server publishes a trust list, the senders' reverse
// DNS and server keys and the receiver's two MX hosts; the receiver runs an mx-trusted and an
// mx-untrusted listener built the way src/server/outpost.ts will build them (profileChecks before
// compileChecks, the profile's handlers); the senders are the test SMTP client, walking the MX list
// in preference order as an MTA does, and sign with src/dkim.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { type ListenerConfig, listenerSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import { createMaildirTarget, ensureMailbox } from '../../src/delivery/maildir/index.js';
import { type DkimSigningKey, dkimRecordName, dkimTxtRecord, generateDkimKey } from '../../src/dkim/keys.js';
import { signMessage } from '../../src/dkim/sign.js';
import { reverseName } from '../../src/dns/names.js';
import type { CachingResolver } from '../../src/dns/resolver.js';
import type { InboundDeps } from '../../src/inbound/mx.js';
import { ListenerPolicy } from '../../src/inbound/policy.js';
import { mxTrustedHandlers, profileChecks } from '../../src/inbound/profiles.js';
import { LocalRecipients } from '../../src/inbound/recipients.js';
import { mxUntrustedHandlers } from '../../src/inbound/untrusted.js';
import { compileChecks } from '../../src/pipeline/config.js';
import { createSmtpServer } from '../../src/protocol/smtp/server.js';
import { QueueRunner } from '../../src/queue/runner.js';
import { openSqliteStore } from '../../src/queue/store/sqlite/index.js';
import { smtpOptions } from '../../src/server/listeners.js';
import { ensureCertificate } from '../../src/server/tls.js';
import { startTestDns } from '../helpers/dns.js';
import { type SmtpReply, smtpConnect } from '../helpers/smtp-client.js';

const RECEIVER = 'receiver.test';
const TRUSTED_MX = { host: 'mx1.receiver.test', ip: '127.0.0.10' };
const UNTRUSTED_MX = { host: 'mx2.receiver.test', ip: '127.0.0.11' };
const TRUST_LIST = 'trust.test';

/** The senders: host name, loopback address, trust-list answer (absent = unlisted). */
const SENDERS = {
  good: { domain: 'good.test', host: 'mail.good.test', ip: '127.0.0.20', listing: '127.0.3.2' },
  unlisted: { domain: 'spam.test', host: 'mail.spam.test', ip: '127.0.0.21', listing: undefined },
  forger: { domain: 'forger.test', host: 'mail.forger.test', ip: '127.0.0.22', listing: '127.0.5.1' },
} as const;
type Sender = (typeof SENDERS)[keyof typeof SENDERS];

/** The world's DNS: receiver MX (trusted at the lower preference), senders' FCrDNS and keys, the list. */
function worldZone(keys: ReadonlyMap<string, DkimSigningKey>): string {
  const lines = [
    `$ORIGIN ${RECEIVER}.`,
    `@ MX 10 ${TRUSTED_MX.host}.`,
    `@ MX 20 ${UNTRUSTED_MX.host}.`,
    `${TRUSTED_MX.host}. A ${TRUSTED_MX.ip}`,
    `${UNTRUSTED_MX.host}. A ${UNTRUSTED_MX.ip}`,
    `$ORIGIN ${TRUST_LIST}.`,
    `@ TXT "a trust list for tests"`,
  ];
  for (const sender of Object.values(SENDERS)) {
    if (sender.listing !== undefined) {
      lines.push(`${reverseName(sender.ip).replace('.in-addr.arpa', '')} A ${sender.listing}`);
    }
  }
  for (const sender of Object.values(SENDERS)) {
    lines.push(`$ORIGIN ${sender.domain}.`, `${sender.host}. A ${sender.ip}`);
    const key = keys.get(sender.domain);
    if (key !== undefined)
      lines.push(`${dkimRecordName(key.selector, sender.domain)}. TXT "${dkimTxtRecord(key)}"`);
  }
  lines.push('$ORIGIN 127.in-addr.arpa.');
  for (const sender of Object.values(SENDERS)) lines.push(`${reverseName(sender.ip)}. PTR ${sender.host}.`);
  return `${lines.join('\n')}\n`;
}

interface Receiver {
  port: number;
  /** Message files of a user's folder ('' = INBOX), waiting (bounded) until `count` are there. */
  mailbox(user: string, folder: string, count?: number): Promise<string[]>;
  setUntrusted(user: string, choice: string): Promise<void>;
}

/** The receiving post office: one store and Maildir, the trusted and the untrusted MX listener. */
async function startReceiver(t: TestContext, resolver: CachingResolver, users: string[]): Promise<Receiver> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-two-tier-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const logger = silentLogger();
  const mailRoot = path.join(dataDir, 'mail');
  const store = await openSqliteStore({
    path: path.join(dataDir, 'queue.db'),
    bodiesDir: path.join(dataDir, 'bodies'),
  });
  const runner = new QueueRunner({
    store,
    targets: { maildir: createMaildirTarget({ root: mailRoot, hostname: TRUSTED_MX.host }) },
    concurrency: 4,
    leaseMs: 60_000,
    pollMs: 200,
    logger,
  });
  t.after(async () => {
    await runner.stop();
    await store.close();
  });
  for (const user of users) {
    const address = `${user}@${RECEIVER}`;
    await ensureMailbox(mailRoot, address);
    await store.addUser({ address, settings: {}, createdAt: Date.now() });
  }
  const recipients = new LocalRecipients(new Set([RECEIVER]), store);
  const tls = await ensureCertificate(
    path.join(dataDir, 'cert.pem'),
    path.join(dataDir, 'key.pem'),
    TRUSTED_MX.host,
  );

  const listen = async (listener: ListenerConfig, hostname: string, port: number) => {
    const policy = new ListenerPolicy({
      // The change src/server/outpost.ts needs: the profile completes the configured checks.
      checks: compileChecks(profileChecks(listener.profile, listener.checks)),
      resolver,
      dnsBudget: 40,
      softBounce: listener.soft_bounce,
      refuseAtGreeting: listener.profile === 'mx-trusted',
      logger,
    });
    const deps: InboundDeps = {
      listenerName: listener.name,
      hostname: () => hostname,
      recipients,
      store,
      policy,
      logger,
      onQueued: () => runner.kick(),
    };
    const handlers =
      listener.profile === 'mx-trusted'
        ? mxTrustedHandlers(deps, { requireClientCert: false, implicitTls: listener.implicit_tls })
        : mxUntrustedHandlers(deps);
    const server = createSmtpServer(smtpOptions(listener, hostname, tls), handlers);
    t.after(() => server.close({ timeoutMs: 0 }));
    return server.listen(port, listener.address.slice(0, listener.address.lastIndexOf(':')));
  };
  const trusted = await listen(
    listenerSchema.parse({
      name: 'mx-trusted',
      profile: 'mx-trusted',
      address: `${TRUSTED_MX.ip}:0`,
      checks: [{ use: 'rttl', lists: [{ zone: TRUST_LIST, min_trust: 1 }] }],
    }),
    TRUSTED_MX.host,
    0,
  );
  // Both MX hosts listen on the same port, each on its own address, as port 25 would be.
  await listen(
    listenerSchema.parse({ name: 'mx-untrusted', profile: 'mx-untrusted', address: `${UNTRUSTED_MX.ip}:0` }),
    UNTRUSTED_MX.host,
    trusted.port,
  );
  runner.start();

  return {
    port: trusted.port,
    async mailbox(user, folder, count = 1) {
      const dir = path.join(mailRoot, RECEIVER, user, folder === '' ? '' : `.${folder}`, 'new');
      for (let attempt = 0; attempt < 100; attempt++) {
        const names = await readdir(dir).catch(() => [] as string[]);
        if (names.length >= count) return names.sort().map((name) => path.join(dir, name));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return [];
    },
    async setUntrusted(user, choice) {
      await store.updateUser(`${user}@${RECEIVER}`, { settings: { untrusted: choice } });
    },
  };
}

/** One delivery attempt as an MTA makes it: which MX answered what. */
interface Attempt {
  host: string;
  greeting: SmtpReply;
  final?: SmtpReply;
}

/**
 * What a standard MTA does (RFC 5321 5.1): MX hosts in preference order; a host that does not greet
 * with 220 is skipped for the next one; the first that greets gets the message.
 */
async function deliverByMx(
  t: TestContext,
  resolver: CachingResolver,
  port: number,
  sender: Sender,
  to: string[],
  body: Buffer,
): Promise<Attempt[]> {
  const exchanges = (await resolver.resolveMx(RECEIVER)).sort((a, b) => a.priority - b.priority);
  const attempts: Attempt[] = [];
  for (const exchange of exchanges) {
    const [address] = await resolver.resolve4(exchange.exchange);
    assert.ok(address, `${exchange.exchange} has an address`);
    const client = await smtpConnect(port, address, { localAddress: sender.ip });
    t.after(() => client.close());
    const attempt: Attempt = { host: exchange.exchange, greeting: client.greeting };
    attempts.push(attempt);
    if (client.greeting.code !== 220) {
      await client.send('QUIT').catch(() => undefined);
      continue;
    }
    attempt.final = await client.sendMail({
      from: `postmaster@${sender.domain}`,
      to,
      body: body.toString('latin1'),
      ehlo: sender.host,
    });
    await client.send('QUIT').catch(() => undefined);
    return attempts;
  }
  return attempts;
}

function letter(sender: Sender, to: string, subject: string): Buffer {
  return Buffer.from(
    `From: Someone <someone@${sender.domain}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n` +
      `Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@${sender.domain}>\r\n\r\n` +
      `${subject}\r\n`,
  );
}

interface World {
  resolver: CachingResolver;
  receiver: Receiver;
  keys: Map<string, DkimSigningKey>;
}

async function startWorld(t: TestContext): Promise<World> {
  const keys = new Map<string, DkimSigningKey>();
  for (const sender of [SENDERS.good, SENDERS.forger]) {
    keys.set(sender.domain, { selector: 'server', ...(await generateDkimKey('ed25519-sha256')) });
  }
  const dns = await startTestDns(t, worldZone(keys));
  const receiver = await startReceiver(t, dns.resolver, ['bob', 'carol', 'dave']);
  return { resolver: dns.resolver, receiver, keys };
}

const signedBy = (key: DkimSigningKey | undefined, domain: string, message: Buffer) =>
  key === undefined
    ? Promise.reject(new Error(`no key for ${domain}`))
    : signMessage(message, [key], { domain });

test('listed and signed by its own host: accepted at the trusted MX, filed in the inbox', async (t) => {
  const world = await startWorld(t);
  const sender = SENDERS.good;
  const body = await signedBy(
    world.keys.get(sender.domain),
    sender.domain,
    letter(sender, 'bob@receiver.test', 'Trusted hello'),
  );
  const attempts = await deliverByMx(
    t,
    world.resolver,
    world.receiver.port,
    sender,
    ['bob@receiver.test'],
    body,
  );
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0]?.host, TRUSTED_MX.host);
  assert.equal(attempts[0]?.final?.code, 250, attempts[0]?.final?.text);
  const [file] = await world.receiver.mailbox('bob', '');
  assert.ok(file, 'delivered to the inbox');
  const delivered = await readFile(file, 'utf8');
  assert.match(delivered, /dnswl=pass\s[^;]*dns\.zone=trust\.test policy\.ip=127\.0\.3\.2/);
  assert.match(
    delivered,
    /x-server-signature=pass header\.d=good\.test header\.s=server\s[^;]*policy\.ptr=mail\.good\.test/,
  );
  assert.doesNotMatch(delivered, /X-Outpost-Verdict/);
  assert.deepEqual(await readdir(path.dirname(file)), [path.basename(file)]);
});

test('unlisted: 554 at the trusted MX greeting, then the untrusted MX files it in Junk with A-R', async (t) => {
  const world = await startWorld(t);
  const sender = SENDERS.unlisted;
  const direct = await smtpConnect(world.receiver.port, TRUSTED_MX.ip, { localAddress: sender.ip });
  t.after(() => direct.close());
  assert.equal(direct.greeting.code, 554);
  assert.equal(direct.greeting.enhanced, '5.7.1');
  assert.match(direct.greeting.text, /not on a trust list/);

  const body = letter(sender, 'bob@receiver.test', 'Untrusted hello');
  const attempts = await deliverByMx(
    t,
    world.resolver,
    world.receiver.port,
    sender,
    ['bob@receiver.test'],
    body,
  );
  assert.deepEqual(
    attempts.map((attempt) => [attempt.host, attempt.greeting.code, attempt.final?.code]),
    [
      [TRUSTED_MX.host, 554, undefined],
      [UNTRUSTED_MX.host, 220, 250],
    ],
  );
  const [file] = await world.receiver.mailbox('bob', 'Junk');
  assert.ok(file, 'delivered to Junk');
  const delivered = await readFile(file, 'utf8');
  assert.match(delivered, /Authentication-Results: mx2\.receiver\.test;/);
  assert.match(delivered, /iprev=pass policy\.iprev=127\.0\.0\.21/);
  assert.match(delivered, /dmarc=none header\.from=spam\.test/);
  assert.match(delivered, /X-Outpost-Verdict: quarantine; check=dmarc/);
  assert.deepEqual(await world.receiver.mailbox('bob', '', 0), [], 'nothing in the inbox');
});

test('listed but with a forged or missing server signature: 550 5.7.1 at the end of data', async (t) => {
  const world = await startWorld(t);
  const sender = SENDERS.forger;
  // Forged: signed for good.test with forger.test's own key, which good.test never published.
  const forgedKey = world.keys.get(sender.domain);
  const forged = await signedBy(
    forgedKey,
    SENDERS.good.domain,
    letter(sender, 'bob@receiver.test', 'Forged'),
  );
  const unsigned = letter(sender, 'bob@receiver.test', 'Unsigned');
  for (const [what, body, reason] of [
    ['forged', forged, /no DKIM signature verifies/],
    ['unsigned', unsigned, /no DKIM signature/],
  ] as const) {
    const attempts = await deliverByMx(
      t,
      world.resolver,
      world.receiver.port,
      sender,
      ['bob@receiver.test'],
      body,
    );
    assert.equal(attempts.length, 1, `${what}: no fall-through after a 5xx at the trusted MX`);
    assert.equal(attempts[0]?.greeting.code, 220, `${what}: a listed client is greeted`);
    assert.equal(attempts[0]?.final?.code, 550, what);
    assert.equal(attempts[0]?.final?.enhanced, '5.7.1', what);
    assert.match(attempts[0]?.final?.text ?? '', reason, what);
  }
  assert.deepEqual(await world.receiver.mailbox('bob', '', 0), []);
  assert.deepEqual(await world.receiver.mailbox('bob', 'Junk', 0), []);
});

test("each user's untrusted choice: Junk, Inbox with the mark, or refused; one choice per transaction", async (t) => {
  const world = await startWorld(t);
  await world.receiver.setUntrusted('carol', 'inbox');
  await world.receiver.setUntrusted('dave', 'refuse');
  const sender = SENDERS.unlisted;
  const client = await smtpConnect(world.receiver.port, UNTRUSTED_MX.ip, { localAddress: sender.ip });
  t.after(() => client.close());
  assert.equal((await client.send(`EHLO ${sender.host}`)).code, 250);
  assert.equal((await client.send(`MAIL FROM:<x@${sender.domain}>`)).code, 250);
  assert.equal((await client.send('RCPT TO:<bob@receiver.test>')).code, 250);
  const other = await client.send('RCPT TO:<dave@receiver.test>');
  assert.equal(other.code, 452, 'a recipient with another choice waits for its own transaction');
  assert.equal(other.enhanced, '4.5.3');
  assert.equal((await client.send('RSET')).code, 250);

  const toCarol = await client.sendMail({
    from: `x@${sender.domain}`,
    to: ['carol@receiver.test'],
    body: letter(sender, 'carol@receiver.test', 'For carol').toString(),
    ehlo: false,
  });
  assert.equal(toCarol.code, 250);
  const toDave = await client.sendMail({
    from: `x@${sender.domain}`,
    to: ['dave@receiver.test'],
    body: letter(sender, 'dave@receiver.test', 'For dave').toString(),
    ehlo: false,
  });
  assert.equal(toDave.code, 550);
  assert.equal(toDave.enhanced, '5.7.1');
  assert.match(toDave.text, /refuses mail that is not authenticated/);

  const [file] = await world.receiver.mailbox('carol', '');
  assert.ok(file, "carol's inbox");
  assert.match(await readFile(file, 'utf8'), /X-Outpost-Verdict: quarantine; check=dmarc/);
  assert.deepEqual(await world.receiver.mailbox('carol', 'Junk', 0), []);
  assert.deepEqual(await world.receiver.mailbox('dave', '', 0), []);
  assert.deepEqual(await world.receiver.mailbox('dave', 'Junk', 0), []);
});

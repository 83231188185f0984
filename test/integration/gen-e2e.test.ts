// Generation cookies end to end on the fake internet: an authority releases a chain; each sending
// outpost holds a state file (data/gen/state.json, as `outpost gen update` writes it) and offers XGEN
// by its own outbound SMTP delivery; the receiving outpost's MX runs the gen-cookie check.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { initAuthority, type Release, releaseNext } from '../../src/gen/authority.js';
import { encodeCookie } from '../../src/gen/chain.js';
import { initServerState } from '../../src/gen/server-state.js';
import { newQueueId } from '../../src/queue/ids.js';
import {
  type FakeInternet,
  fakeInternet,
  finalStatus,
  messagesIn,
  type PostOffice,
  sendThrough,
} from '../helpers/fake-internet.js';
import { freePort } from '../helpers/net.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const ZONE = 'gen.test';
const MAX_AGE = 3;

async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An authority with a chain of 16 that has released epochs 0..5; returns each release by epoch. */
async function authorityReleases(t: TestContext): Promise<Release[]> {
  const file = path.join(await tempDir(t, 'outpost-gen-authority-'), 'authority.json');
  await initAuthority(file, ZONE, 16);
  const releases: Release[] = [];
  for (let epoch = 0; epoch <= 5; epoch += 1) releases.push(await releaseNext(file));
  assert.deepEqual(
    releases.map((r) => r.epoch),
    [0, 1, 2, 3, 4, 5],
  );
  return releases;
}

function release(releases: Release[], epoch: number): Release {
  const found = releases[epoch];
  assert.ok(found, `epoch ${epoch} was released`);
  return found;
}

/** A sender's state file at `epoch`, outside its data dir so it exists before the outpost starts. */
async function senderState(t: TestContext, releases: Release[], epoch: number): Promise<string> {
  const file = path.join(await tempDir(t, 'outpost-gen-state-'), 'state.json');
  await initServerState(file, {
    zone: ZONE,
    epoch,
    cookie: release(releases, epoch).cookie,
    maxAge: MAX_AGE,
  });
  return file;
}

/** The receiving MX's check block at `epoch`. */
function genCheck(releases: Release[], epoch: number) {
  return {
    use: 'gen-cookie',
    zone: ZONE,
    epoch,
    cookie: encodeCookie(release(releases, epoch).cookie),
    max_age: MAX_AGE,
  };
}

interface OfficePlan {
  domain: string;
  ip: string;
  /** Path of the generation state file; absent = this outpost offers no XGEN. */
  state?: string;
  checks?: unknown[];
}

/** The outposts, all on one SMTP port (each on its own address), delivering outbound to that port. */
async function world(t: TestContext, plans: OfficePlan[]): Promise<FakeInternet> {
  const port = await freePort();
  return fakeInternet(t, {
    offices: plans.map((plan) => ({
      domain: plan.domain,
      ip: plan.ip,
      users: ['user'],
      config: {
        listeners: [{ name: 'mx', profile: 'mx', address: `${plan.ip}:${port}`, checks: plan.checks ?? [] }],
        delivery: { smtp: { port, local_address: plan.ip } },
        // A path that does not exist means "no state": the outpost sends no XGEN.
        gen: { state: plan.state ?? path.join(os.tmpdir(), `outpost-no-gen-${newQueueId()}.json`) },
        queue: { poll: '100ms', retry: ['1s'] },
      },
    })),
  });
}

/** Queues a short message from user@<office> to `to`; it leaves by the outpost's SMTP delivery. */
function sendHello(office: PostOffice, to: string, subject: string): Promise<string> {
  const from = `user@${office.domain}`;
  return sendThrough(office, from, to, `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nHello.\r\n`);
}

test('a newer sender (epoch 5) is accepted by an older receiver (epoch 2, max_age 3)', async (t) => {
  const releases = await authorityReleases(t);
  const net = await world(t, [
    { domain: 'a.example', ip: '127.0.0.2', state: await senderState(t, releases, 5) },
    { domain: 'b.example', ip: '127.0.0.3', checks: [genCheck(releases, 2)] },
    { domain: 'n.example', ip: '127.0.0.4' },
  ]);
  const a = net.office('a.example');
  const b = net.office('b.example');
  const sent = await sendHello(a, 'user@b.example', 'from the future');
  const outcome = await finalStatus(a, sent);
  assert.equal(outcome.status, 'delivered', outcome.lastReply);
  const [received] = await messagesIn(b, 'user', '', 1);
  assert.match(received ?? '', /gen-cookie=pass[^;]*policy\.epoch=5/);

  // An outpost with no state offers nothing: "none", accepted by the check's defaults.
  const plain = await sendHello(net.office('n.example'), 'user@b.example', 'no generation');
  assert.equal((await finalStatus(net.office('n.example'), plain)).status, 'delivered');
  const inbox = await messagesIn(b, 'user', '', 2);
  assert.match(inbox[1] ?? '', /gen-cookie=none/);
});

test('a sender 4 generations behind (epoch 1 vs 5, max_age 3) is refused and gets a DSN', async (t) => {
  const releases = await authorityReleases(t);
  const net = await world(t, [
    { domain: 'b.example', ip: '127.0.0.3', checks: [genCheck(releases, 5)] },
    { domain: 'c.example', ip: '127.0.0.5', state: await senderState(t, releases, 1) },
  ]);
  const b = net.office('b.example');
  const c = net.office('c.example');
  const sent = await sendHello(c, 'user@b.example', 'from the past');
  const outcome = await finalStatus(c, sent);
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.lastReply ?? '', /554[ -]5\.7\.0 Your mail server is 4 generations out of date/);
  assert.equal((await b.mailbox('user')).length, 0, 'nothing was delivered at b.example');
  // The failure comes back to the sender as a DSN in their own mailbox at c.example.
  const [dsn] = await messagesIn(c, 'user', '', 1);
  assert.match(dsn ?? '', /Content-Type: multipart\/report; report-type=delivery-status/i);
  assert.match(dsn ?? '', /Final-Recipient: rfc822; ?user@b\.example/i);
  assert.match(dsn ?? '', /Status: 5\.7\.0/);
  assert.match(dsn ?? '', /generations out of date/);
});

test('XGEN at the receiving MX: malformed gives 501 5.5.4, a forged cookie 554 5.7.0', async (t) => {
  const releases = await authorityReleases(t);
  const net = await world(t, [{ domain: 'b.example', ip: '127.0.0.3', checks: [genCheck(releases, 5)] }]);
  const b = net.office('b.example');
  const mxPort = b.outpost.listening.find((l) => l.name === 'mx')?.port;
  assert.ok(mxPort);
  const client = await smtpConnect(mxPort, b.ip, { localAddress: '127.0.0.6' });
  t.after(() => client.close());
  const ehlo = await client.send('EHLO client.test');
  assert.ok(ehlo.lines.includes('XGEN'), ehlo.text);
  for (const malformed of [
    'XGEN',
    `XGEN ${ZONE} 5`,
    `XGEN ${ZONE} five ${encodeCookie(release(releases, 5).cookie)}`,
    `XGEN ${ZONE} 5 not-base64!`,
    `XGEN ${ZONE} 5 ${Buffer.alloc(16).toString('base64')}`,
  ]) {
    const answer = await client.send(malformed);
    assert.equal(`${answer.code} ${answer.enhanced}`, '501 5.5.4', `${malformed} -> ${answer.text}`);
  }
  const forged = await client.send(`XGEN ${ZONE} 6 ${Buffer.alloc(32, 7).toString('base64')}`);
  assert.equal(forged.code, 250, forged.text);
  const refused = await client.send('MAIL FROM:<someone@forger.example>');
  assert.equal(`${refused.code} ${refused.enhanced}`, '554 5.7.0', refused.text);
  assert.match(refused.text, /not on the chain/);
});

// Challenge/response end to end on the fake internet: two running outposts (alice.example and
// bob.example) deliver to each other by real outbound SMTP; bob opted in to challenge/response and
// his outpost checks SPF, so only authenticated senders are challenged.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { newQueueId } from '../../src/queue/ids.js';
import {
  type FakeInternet,
  fakeInternet,
  finalStatus,
  messagesIn,
  type PostOffice,
  sendThrough,
} from '../helpers/fake-internet.js';
import { freePort, waitFor } from '../helpers/net.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const ALICE_IP = '127.0.0.2';
const BOB_IP = '127.0.0.3';
/** A host that is not in alice.example's or carol.example's SPF policy. */
const FORGER_IP = '127.0.0.9';
const TOKEN = 'fake-internet-token-000';
const BOB = 'bob@bob.example';
const CONFIRM_BASE = 'http://confirm.bob.example';

/** SPF: each sender domain names its own outpost's address. */
const SENDER_ZONE = [
  '$ORIGIN alice.example.',
  `@ TXT "v=spf1 ip4:${ALICE_IP} -all"`,
  '$ORIGIN carol.example.',
  '@ TXT "v=spf1 ip4:127.0.0.4 -all"',
  '',
].join('\n');

function mail(from: string, to: string, subject: string, extraHeaders = ''): string {
  return `From: ${from}\nTo: ${to}\nSubject: ${subject}\nMessage-ID: <${newQueueId()}@test>\n${extraHeaders}\nHello.\n`;
}

function header(message: string, name: string): string | undefined {
  const head = message.split(/\r?\n\r?\n/)[0] ?? '';
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
}

function httpBase(office: PostOffice): string {
  const http = office.outpost.listening.find((l) => l.name === 'http');
  assert.ok(http, 'the outpost has an HTTP listener');
  return `http://${http.address}:${http.port}`;
}

async function whitelistOf(office: PostOffice, user: string): Promise<string[]> {
  const response = await fetch(
    `${httpBase(office)}/api/challenge/whitelist?user=${encodeURIComponent(user)}`,
    {
      headers: { authorization: `Bearer ${TOKEN}` },
    },
  );
  assert.equal(response.status, 200);
  const json = (await response.json()) as { whitelist: { entry: string }[] };
  return json.whitelist.map((w) => w.entry);
}

/** Alice's and bob's outposts, both delivering outbound to the shared SMTP port from their own address. */
async function world(t: TestContext): Promise<FakeInternet> {
  const port = await freePort();
  const office = (domain: string, ip: string, users: string[], extra: Record<string, unknown> = {}) => ({
    domain,
    ip,
    users,
    config: {
      listeners: [
        {
          name: 'mx',
          profile: 'mx',
          address: `${ip}:${port}`,
          checks: [{ use: 'spf', on: { fail: 'accept', softfail: 'accept' } }],
        },
      ],
      delivery: { smtp: { port, local_address: ip } },
      queue: { poll: '100ms', retry: ['1s'] },
      ...extra,
    },
  });
  return fakeInternet(t, {
    offices: [
      office('alice.example', ALICE_IP, ['alice', 'dave']),
      office('bob.example', BOB_IP, ['bob'], { challenge: { base_url: CONFIRM_BASE } }),
    ],
    zone: SENDER_ZONE,
  });
}

test('challenge/response between two outposts: hold, challenge, confirm by reply and by link', async (t) => {
  const net = await world(t);
  const alice = net.office('alice.example');
  const bob = net.office('bob.example');
  assert.ok(await bob.outpost.store.updateUser(BOB, { settings: { challenge: 'on' } }));
  const bobPort = bob.outpost.listening.find((l) => l.name === 'mx')?.port;
  assert.ok(bobPort);

  await t.test('an authenticated stranger is held and challenged', async () => {
    const sent = await sendThrough(
      alice,
      'alice@alice.example',
      BOB,
      mail('alice@alice.example', BOB, 'first'),
    );
    assert.equal((await finalStatus(alice, sent)).status, 'delivered');
    const held = await waitFor('a held recipient at bob.example', async () => {
      const rows = await bob.outpost.store.list({ status: 'held' });
      return rows.length > 0 ? rows : undefined;
    });
    assert.deepEqual(
      held.map((r) => [r.address, r.status]),
      [[BOB, 'held']],
    );
    assert.equal((await bob.mailbox('bob')).length, 0, 'nothing reached the INBOX');
    const [challenge] = await messagesIn(alice, 'alice', '', 1);
    assert.ok(challenge);
    assert.match(header(challenge, 'Subject') ?? '', /^Please confirm your message: first$/);
    assert.match(challenge, /^Return-Path: <>$/m, 'the challenge goes out with the null sender');
  });

  await t.test('a reply to the confirm address, sent by alice outpost, releases and whitelists', async () => {
    const [challenge] = await messagesIn(alice, 'alice', '', 1);
    const confirm = /<([^>]+)>/.exec(header(challenge ?? '', 'Reply-To') ?? '')?.[1];
    assert.ok(confirm, 'the challenge names its confirm address');
    assert.match(confirm, /^bob-confirm-accept\.\d+\.\d+\.[0-9a-f]+@bob\.example$/);
    const reply = await sendThrough(
      alice,
      'alice@alice.example',
      confirm,
      mail('alice@alice.example', confirm, 'Re: Please confirm your message: first'),
    );
    const outcome = await finalStatus(alice, reply);
    assert.equal(outcome.status, 'delivered', outcome.lastReply);
    const [released] = await messagesIn(bob, 'bob', '', 1);
    assert.equal(header(released ?? '', 'Subject'), 'first');
    assert.deepEqual(await bob.outpost.store.list({ status: 'held' }), []);
    assert.deepEqual(await whitelistOf(bob, BOB), ['alice@alice.example']);
  });

  await t.test('a second message from alice goes straight to the INBOX', async () => {
    const sent = await sendThrough(
      alice,
      'alice@alice.example',
      BOB,
      mail('alice@alice.example', BOB, 'second'),
    );
    assert.equal((await finalStatus(alice, sent)).status, 'delivered');
    const inbox = await messagesIn(bob, 'bob', '', 2);
    assert.deepEqual(
      inbox.map((m) => header(m, 'Subject')),
      ['first', 'second'],
    );
    assert.equal((await alice.mailbox('alice')).length, 1, 'no second challenge');
  });

  await t.test('a forged sender (SPF fail) is not challenged: Junk', async () => {
    const client = await smtpConnect(bobPort, BOB_IP, { localAddress: FORGER_IP });
    const answer = await client.sendMail({
      from: 'carol@carol.example',
      to: [BOB],
      body: mail('carol@carol.example', BOB, 'forged'),
    });
    await client.close();
    assert.equal(answer.code, 250, answer.text);
    const [junk] = await messagesIn(bob, 'bob', 'Junk', 1);
    assert.equal(header(junk ?? '', 'Subject'), 'forged');
    assert.match(junk ?? '', /spf=fail/);
    assert.deepEqual(await bob.outpost.store.list({ status: 'held' }), []);
    assert.deepEqual(await bob.outpost.store.list({ recipient: 'carol@carol.example' }), []);
  });

  await t.test('a list message (List-Id) from an unknown but authenticated sender is delivered', async () => {
    const client = await smtpConnect(bobPort, BOB_IP, { localAddress: ALICE_IP });
    const answer = await client.sendMail({
      from: 'news@alice.example',
      to: [BOB],
      body: mail('news@alice.example', BOB, 'list post', 'List-Id: <news.alice.example>\n'),
    });
    await client.close();
    assert.equal(answer.code, 250, answer.text);
    const inbox = await messagesIn(bob, 'bob', '', 3);
    assert.equal(header(inbox[2] ?? '', 'Subject'), 'list post');
    assert.match(inbox[2] ?? '', /spf=pass/);
    assert.deepEqual(await bob.outpost.store.list({ status: 'held' }), []);
  });

  await t.test('the confirm link (GET shows a page, POST releases) works over HTTP', async () => {
    const sent = await sendThrough(
      alice,
      'dave@alice.example',
      BOB,
      mail('dave@alice.example', BOB, 'from dave'),
    );
    assert.equal((await finalStatus(alice, sent)).status, 'delivered');
    const [challenge] = await messagesIn(alice, 'dave', '', 1);
    const link = new RegExp(`${CONFIRM_BASE}/challenge/confirm/[A-Za-z0-9_-]{43}`).exec(challenge ?? '')?.[0];
    assert.ok(link, 'the challenge carries the confirm link');
    // base_url is the public name; the test reaches bob's HTTP listener directly.
    const url = link.replace(CONFIRM_BASE, httpBase(bob));
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post">/);
    assert.equal((await bob.outpost.store.list({ status: 'held' })).length, 1, 'GET changed nothing');
    const confirmed = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(confirmed.status, 200);
    assert.match(await confirmed.text(), /Released/);
    const inbox = await messagesIn(bob, 'bob', '', 4);
    assert.equal(header(inbox[3] ?? '', 'Subject'), 'from dave');
    assert.deepEqual((await whitelistOf(bob, BOB)).sort(), ['alice@alice.example', 'dave@alice.example']);
    const again = await fetch(url, { method: 'POST' });
    assert.match(await again.text(), /Already released/);
  });
});

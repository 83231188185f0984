import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { signObject } from '../../src/im2000/canonical.js';
import type { Notice } from '../../src/im2000/protocol.js';
import { IM2000_DB_FILE } from '../../src/im2000/store.js';
import { API_TOKEN, eventually, im2000World, type Office, type World } from '../unit/im2000/world.js';

const MESSAGE = Buffer.from(
  'From: Alice <alice@alice.example>\r\nTo: bob@bob.example\r\nSubject: Lunch on Friday?\r\n\r\nAt noon?\r\n',
);

/** An HTTPS request to a post office of the world, trusting the world's CA. */
function call(
  world: World,
  office: Office,
  method: 'GET' | 'POST',
  pathAndQuery: string,
  options: { json?: unknown; token?: string } = {},
): Promise<{ status: number; body: string }> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: office.ip,
        port: office.port,
        servername: office.host,
        ca: world.caCert,
        method,
        path: pathAndQuery,
        headers: {
          host: `${office.host}:${office.port}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function errorCode(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

/** The fetch token the sender stored for a recipient (read from the sender's SQLite file). */
function tokenOf(office: Office, id: string, address: string): string {
  const db = new Database(path.join(office.dataDir, IM2000_DB_FILE), { readonly: true });
  try {
    const row = db
      .prepare('SELECT token FROM recipients WHERE message_id = ? AND address = ?')
      .get(id, address) as { token: string } | undefined;
    if (!row) throw new Error('no such recipient');
    return row.token;
  } finally {
    db.close();
  }
}

function statusOf(office: Office, id: string, address: string): string | undefined {
  return office
    .running()
    .status(id)
    .recipients.find((r) => r.address === address)?.status;
}

const twoOffices = (bob: { start?: boolean } = {}) => ({
  offices: [
    { domain: 'alice.example', ip: '127.0.0.2', users: ['alice'] },
    { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'], ...bob },
  ],
});

test('send, notice, fetch, receipt: the message lands in the Maildir once and the status says receipted', async (t) => {
  const world = await im2000World(t, twoOffices());
  const alice = world.office('alice.example');
  const bob = world.office('bob.example');
  const { id } = await alice
    .running()
    .send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  await eventually(() => statusOf(alice, id, 'bob@bob.example') === 'receipted', 'the receipt');
  const files = await bob.inbox('bob');
  assert.equal(files.length, 1);
  const stored = await readFile(files[0] ?? '', 'utf8');
  assert.match(
    stored,
    /^Received: from po\.alice\.example \(\[127\.0\.0\.2\]\) by po\.bob\.example with IM2000/m,
  );
  assert.ok(stored.endsWith(MESSAGE.toString()));
  const status = alice.running().status(id);
  assert.equal(status.subject, 'Lunch on Friday?');
  const recipient = status.recipients[0];
  assert.ok(recipient?.notifiedAt && recipient.fetchedAt && recipient.receiptedAt);

  // The HTTP API shows the same status, behind the bearer token.
  const api = await call(world, alice, 'GET', `/api/im2000/${id}`, { token: API_TOKEN });
  assert.equal(api.status, 200);
  assert.equal(
    (JSON.parse(api.body) as { recipients: { status: string }[] }).recipients[0]?.status,
    'receipted',
  );
  assert.equal((await call(world, alice, 'GET', `/api/im2000/${id}`)).status, 401);
  const unknown = await call(world, alice, 'GET', '/api/im2000/AAAAAAAAAAAAAAAA', { token: API_TOKEN });
  assert.equal(unknown.status, 404);
  assert.equal(errorCode(unknown.body), 'IM2000_UNKNOWN_MESSAGE');

  // The token is used up by the receipt; a wrong token is refused; recall after fetch is a conflict.
  const token = tokenOf(alice, id, 'bob@bob.example');
  const reused = await call(world, alice, 'GET', `/im2000/messages/${id}?token=${token}`);
  assert.equal(reused.status, 410);
  assert.equal(errorCode(reused.body), 'IM2000_TOKEN_USED');
  const wrong = await call(world, alice, 'GET', `/im2000/messages/${id}?token=${'x'.repeat(43)}`);
  assert.equal(wrong.status, 403);
  assert.equal(errorCode(wrong.body), 'IM2000_BAD_TOKEN');
  const recall = await call(world, alice, 'POST', `/api/im2000/${id}/recall`, { token: API_TOKEN });
  assert.equal(recall.status, 409);
  assert.equal(errorCode(recall.body), 'IM2000_ALREADY_FETCHED');
});

test('receiver down for a while: notices are retried and the message arrives once', async (t) => {
  const world = await im2000World(t, twoOffices({ start: false }));
  const alice = world.office('alice.example');
  const bob = world.office('bob.example');
  const { id } = await alice
    .running()
    .send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  const waiting = await eventually(() => {
    const recipient = alice.running().status(id).recipients[0];
    return recipient && recipient.attempts >= 3 ? recipient : undefined;
  }, 'three failed notices');
  assert.equal(waiting.status, 'pending');
  assert.match(waiting.lastError ?? '', /po\.bob\.example/);
  await bob.start();
  await eventually(() => statusOf(alice, id, 'bob@bob.example') === 'receipted', 'the receipt');
  assert.equal((await bob.inbox('bob')).length, 1);

  // A notice repeated after the message arrived (say the receipt was lost): bob answers "stored",
  // sends the receipt again and does not pull a second copy.
  const db = new Database(path.join(alice.dataDir, IM2000_DB_FILE));
  db.prepare("UPDATE recipients SET status = 'notified', next_attempt_at = 0").run();
  // A second pull would now fail its SHA-256 check and send no receipt.
  db.prepare("UPDATE messages SET body = X'00'").run();
  db.close();
  assert.equal(await alice.running().runDue(), 1);
  await eventually(() => statusOf(alice, id, 'bob@bob.example') === 'receipted', 'the repeated receipt');
  assert.equal((await bob.inbox('bob')).length, 1);
});

test('recall before fetch: the recipient is recalled and a fetch is refused with IM2000_RECALLED', async (t) => {
  const world = await im2000World(t, twoOffices({ start: false }));
  const alice = world.office('alice.example');
  const { id } = await alice
    .running()
    .send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  const recalled = await call(world, alice, 'POST', `/api/im2000/${id}/recall`, { token: API_TOKEN });
  assert.equal(recalled.status, 200);
  assert.equal(statusOf(alice, id, 'bob@bob.example'), 'recalled');
  const token = tokenOf(alice, id, 'bob@bob.example');
  const fetched = await call(world, alice, 'GET', `/im2000/messages/${id}?token=${token}`);
  assert.equal(fetched.status, 410);
  assert.equal(errorCode(fetched.body), 'IM2000_RECALLED');
  // Bob comes up: nothing is noticed any more, nothing arrives.
  await world.office('bob.example').start();
  await alice.running().runDue();
  assert.equal((await world.office('bob.example').inbox('bob')).length, 0);
});

function forgedNotice(fetchUrl: string): Omit<Notice, 'signature'> {
  return {
    v: 'im1',
    type: 'notice',
    id: 'ForgedForgedForged00',
    from: 'alice@alice.example',
    to: 'bob@bob.example',
    size: MESSAGE.length,
    sha256: 'AAAA',
    subject: 'forged',
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    fetchUrl,
  };
}

test('forged notices are refused: bad signature, and a fetch host that is not the sender domain’s post office', async (t) => {
  const world = await im2000World(t, twoOffices());
  const alice = world.office('alice.example');
  const bob = world.office('bob.example');
  const honestUrl = `${alice.baseUrl}/im2000/messages/ForgedForgedForged00?token=abc`;
  const strangerKey = generateKeyPairSync('ed25519').privateKey;
  const badSignature = await call(world, bob, 'POST', '/im2000/notice', {
    json: signObject(forgedNotice(honestUrl), strangerKey),
  });
  assert.equal(badSignature.status, 403);
  assert.equal(errorCode(badSignature.body), 'IM2000_BAD_SIGNATURE');

  // Signed with alice's real key, but the message would be pulled from somewhere else.
  for (const url of [
    `https://evil.example:${alice.port}/im2000/messages/ForgedForgedForged00?token=abc`,
    `https://${alice.host}:${alice.port + 1}/im2000/messages/ForgedForgedForged00?token=abc`,
    `http://${alice.host}:${alice.port}/im2000/messages/ForgedForgedForged00?token=abc`,
  ]) {
    const wrongHost = await call(world, bob, 'POST', '/im2000/notice', {
      json: signObject(forgedNotice(url), alice.key),
    });
    assert.equal(wrongHost.status, 403, url);
    assert.equal(errorCode(wrongHost.body), 'IM2000_WRONG_HOST', url);
  }
  const notAUser = await call(world, bob, 'POST', '/im2000/notice', {
    json: signObject({ ...forgedNotice(honestUrl), to: 'nobody@bob.example' }, alice.key),
  });
  assert.equal(notAUser.status, 404);
  assert.equal(errorCode(notAUser.body), 'NO_SUCH_USER');
  const malformed = await call(world, bob, 'POST', '/im2000/notice', { json: { v: 'im1' } });
  assert.equal(malformed.status, 400);
  assert.equal((await bob.inbox('bob')).length, 0);
});

test('quota: a send that would exceed the sender quota fails with IM2000_QUOTA_EXCEEDED', async (t) => {
  const world = await im2000World(t, {
    offices: [
      {
        domain: 'alice.example',
        ip: '127.0.0.2',
        users: ['alice'],
        options: { quotaBytes: 2 * MESSAGE.length },
      },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'], start: false },
    ],
  });
  const alice = world.office('alice.example').running();
  const send = () => alice.send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  const first = await send();
  await send();
  await assert.rejects(
    send(),
    (error: unknown) => (error as { code?: string }).code === 'IM2000_QUOTA_EXCEEDED',
  );
  // A recalled message no longer counts.
  alice.recall(first.id);
  await send();
});

test('expiry: without a receipt before expiresAt the recipient is expired and the fetch answers IM2000_EXPIRED', async (t) => {
  const world = await im2000World(t, {
    offices: [
      { domain: 'alice.example', ip: '127.0.0.2', users: ['alice'], options: { expiryMs: 300 } },
      { domain: 'bob.example', ip: '127.0.0.3', users: ['bob'], start: false },
    ],
  });
  const alice = world.office('alice.example');
  const { id } = await alice
    .running()
    .send({ from: 'alice@alice.example', to: ['bob@bob.example'], message: MESSAGE });
  await eventually(() => statusOf(alice, id, 'bob@bob.example') === 'expired', 'the expiry');
  const fetched = await call(
    world,
    alice,
    'GET',
    `/im2000/messages/${id}?token=${tokenOf(alice, id, 'bob@bob.example')}`,
  );
  assert.equal(fetched.status, 410);
  assert.equal(errorCode(fetched.body), 'IM2000_EXPIRED');
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ensureMailbox, listMaildir } from '../../../src/delivery/maildir/index.js';
import { atomItems, followFeedOnce, jsonFeedItems } from '../../../src/im2000/follow.js';
import { Im2000Store } from '../../../src/im2000/store.js';
import { im2000World } from './world.js';

async function postToList(mailRoot: string, address: string, n: number, subject: string): Promise<void> {
  const [local = '', domain = ''] = address.split('@');
  const file = path.join(mailRoot, domain, local, 'new', `${1_800_000_000 + n}.M${n}.test`);
  await writeFile(
    file,
    `From: Poster ${n} <p${n}@elsewhere.example>\r\nTo: ${address}\r\nSubject: ${subject}\r\n` +
      `Date: ${new Date(Date.UTC(2026, 0, n)).toUTCString()}\r\nMessage-ID: <m${n}@elsewhere.example>\r\n\r\nBody of post ${n} & more\r\n`,
  );
}

test('a public mailbox is published as Atom and JSON Feed, and following it stores each item once', async (t) => {
  const world = await im2000World(t, {
    tls: false,
    offices: [
      {
        domain: 'lists.example',
        ip: '127.0.0.6',
        users: ['announce', 'private'],
        publicFeeds: ['announce@lists.example'],
      },
    ],
  });
  const lists = world.office('lists.example');
  await postToList(lists.mailRoot, 'announce@lists.example', 1, 'First <release>');
  await postToList(lists.mailRoot, 'announce@lists.example', 2, 'Grüße aus Köln');

  const base = `http://${lists.ip}:${lists.port}/feeds`;
  const atom = await fetch(`${base}/announce@lists.example.atom`);
  assert.equal(atom.status, 200);
  assert.match(atom.headers.get('content-type') ?? '', /application\/atom\+xml/);
  const atomText = await atom.text();
  const fromAtom = atomItems(atomText, 0);
  assert.deepEqual(
    fromAtom.map((item) => item.title),
    ['Grüße aus Köln', 'First <release>'],
  );
  assert.match(fromAtom[1]?.text ?? '', /Body of post 1 & more/);
  const json = await (await fetch(`${base}/announce@lists.example.json`)).json();
  const fromJson = jsonFeedItems(json, 0);
  assert.deepEqual(
    fromJson.map((item) => item.id),
    fromAtom.map((item) => item.id),
    'both formats name items alike',
  );
  assert.equal(
    (await fetch(`${base}/private@lists.example.json`)).status,
    404,
    'only configured mailboxes are public',
  );

  // The reader follows the feed into its own Maildir.
  const readerDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-feed-reader-'));
  t.after(() => rm(readerDir, { recursive: true, force: true }));
  const mailRoot = path.join(readerDir, 'mail');
  await ensureMailbox(mailRoot, 'reader@home.example');
  const store = new Im2000Store(path.join(readerDir, 'im2000.db'));
  t.after(() => store.close());
  for (const url of [`${base}/announce@lists.example.atom`, `${base}/announce@lists.example.json`]) {
    const follow = { url, into: 'reader@home.example', mailRoot, store, hostname: 'home.example' };
    assert.equal(await followFeedOnce(follow), 2);
    assert.equal(await followFeedOnce(follow), 0, 'a second poll adds nothing');
  }
  await postToList(lists.mailRoot, 'announce@lists.example', 3, 'Third');
  assert.equal(
    await followFeedOnce({
      url: `${base}/announce@lists.example.json`,
      into: 'reader@home.example',
      mailRoot,
      store,
      hostname: 'home.example',
    }),
    1,
  );
  const files = await listMaildir(mailRoot, 'reader@home.example');
  assert.equal(files.length, 5, 'two feeds (Atom and JSON are separate URLs): 2 + 2 + 1');
  const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));
  assert.ok(
    texts.some((text) => text.includes('Subject: =?UTF-8?B?')),
    'non-ASCII subjects are encoded',
  );
  assert.ok(texts.every((text) => /^X-Feed-URL: http:\/\//m.test(text)));
});

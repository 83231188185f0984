import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { silentLogger } from '../../../src/core/log.js';
import { ensureMailbox, listMaildir } from '../../../src/delivery/maildir/index.js';
import { LocalRecipients } from '../../../src/inbound/recipients.js';
import {
  OutboxJournal,
  OutboxWatcher,
  outboxConfigSchema,
  startOutboxWatcher,
} from '../../../src/outbox/index.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import type { MessageRow, Store } from '../../../src/queue/store/types.js';
import { rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { RateLimiter } from '../../../src/ratelimit/limiter.js';

const DOMAIN = 'example.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;

interface World {
  dir: string;
  store: Store;
  mailRoot: string;
  journalFile: string;
  watcher: OutboxWatcher;
  /** Moves the clock of the rate limiter. */
  advance(ms: number): void;
  /** Writes a message file into alice's Outbox as Dovecot does (LF line endings); returns its name. */
  save(text: string, options?: { sub?: 'new' | 'cur'; name?: string }): Promise<string>;
  /** The names of the message files in one of alice's folders ('' = INBOX). */
  folder(name: string): Promise<string[]>;
  messages(): Promise<MessageRow[]>;
}

async function outboxWorld(t: TestContext, options: { messagesPerHour?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({
    path: join(dir, 'queue/outpost.db'),
    bodiesDir: join(dir, 'queue/bodies'),
  });
  t.after(() => store.close());
  const mailRoot = join(dir, 'mail');
  await store.addUser({ address: ALICE, settings: { aliases: `al@${DOMAIN}` }, createdAt: Date.now() });
  await store.addUser({ address: BOB, settings: {}, createdAt: Date.now() });
  for (const user of [ALICE, BOB]) await ensureMailbox(mailRoot, user);
  let now = Date.now();
  const rateLimiter =
    options.messagesPerHour === undefined
      ? undefined
      : new RateLimiter(
          join(dir, 'ratelimit.db'),
          rateLimitConfigSchema.parse({ per_user: { messages_per_hour: options.messagesPerHour } }),
          () => now,
        );
  if (rateLimiter) t.after(() => rateLimiter.close());
  const journalFile = join(dir, 'outbox.db');
  const watcher = new OutboxWatcher({
    store,
    recipients: new LocalRecipients(new Set([DOMAIN]), store),
    hostname: 'mx.example.test',
    defaultDomain: DOMAIN,
    mailRoot,
    journalFile,
    intervalMs: 60_000,
    logger: silentLogger(),
    ...(rateLimiter ? { rateLimiter } : {}),
  });
  t.after(() => watcher.stop());
  const aliceDir = join(mailRoot, DOMAIN, 'alice');
  let counter = 0;
  return {
    dir,
    store,
    mailRoot,
    journalFile,
    watcher,
    advance: (ms) => {
      now += ms;
    },
    async save(text, { sub = 'new', name } = {}) {
      const outbox = join(aliceDir, '.Outbox');
      for (const part of ['tmp', 'new', 'cur']) await mkdir(join(outbox, part), { recursive: true });
      const fileName = name ?? `1700000000.M${++counter}P1.imap.test,S=${text.length}`;
      await writeFile(join(outbox, sub, fileName), text);
      return fileName;
    },
    async folder(name) {
      return (await listMaildir(mailRoot, ALICE, name)).map((path) => basename(path));
    },
    async messages() {
      const rows = await store.list({});
      const ids = [...new Set(rows.map((row) => row.messageId))];
      const messages = await Promise.all(ids.map((id) => store.message(id)));
      return messages.filter((message) => message !== undefined);
    },
  };
}

async function inboxTexts(world: World): Promise<string[]> {
  const paths = await listMaildir(world.mailRoot, ALICE);
  return Promise.all(paths.map((path) => readFile(path, 'utf8')));
}

const LUNCH =
  'From: Alice <alice@example.test>\nTo: bob@example.test, carol@remote.test\nCc: dave@remote.test\n' +
  'Bcc: secret@remote.test\nSubject: Lunch\n\nsee you at noon\n';

test('a message saved in the Outbox is queued as sent by its user (Bcc removed) and moves to Sent', async (t) => {
  const world = await outboxWorld(t);
  const name = await world.save(LUNCH);
  assert.deepEqual(await world.watcher.scan(), { sent: 1, refused: 0, held: 0, failed: 0 });

  const [queued, ...more] = await world.messages();
  assert.equal(more.length, 0);
  assert.ok(queued);
  assert.equal(queued.sender, ALICE);
  assert.deepEqual(
    queued.recipients.map((r) => `${r.address} ${r.target}`),
    [`${BOB} maildir`, 'carol@remote.test smtp', 'dave@remote.test smtp', 'secret@remote.test smtp'],
  );
  assert.equal(queued.meta.outboxFile, `${ALICE}/${name}`);
  assert.equal(queued.meta.listener, 'outbox');
  const body = (await world.store.body(queued.id))?.toString('utf8') ?? '';
  assert.match(
    body,
    /\r\nTo: bob@example\.test, carol@remote\.test\r\nCc: dave@remote\.test\r\nSubject: Lunch\r\n/,
  );
  assert.doesNotMatch(body, /secret@remote\.test/, 'blind copies stay blind');
  assert.match(body, /\r\n\r\nsee you at noon\r\n$/);

  assert.deepEqual(await world.folder('Outbox'), []);
  assert.deepEqual(await world.folder('Sent'), [`${name}:2,S`]);
  const sent = await readFile(join(world.mailRoot, DOMAIN, 'alice', '.Sent', 'cur', `${name}:2,S`), 'utf8');
  assert.equal(sent, LUNCH, 'the copy in Sent is the message as the client saved it');
  assert.deepEqual(await world.folder(''), [], 'no notice');
  const journal = new OutboxJournal(world.journalFile);
  t.after(() => journal.close());
  assert.equal(journal.get(`${ALICE}/${name}`), undefined, 'nothing left in flight');
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 0, held: 0, failed: 0 });
  assert.equal((await world.messages()).length, 1);
});

test('a file in cur/ with flags keeps its base name; an alias in From: is the user too', async (t) => {
  const world = await outboxWorld(t);
  const text = 'From: al@example.test\nTo: bob@example.test\nSubject: alias\n\nhi\n';
  await world.save(text, { sub: 'cur', name: '1700000001.M9P1.imap.test,S=60,W=65:2,FS' });
  assert.equal((await world.watcher.scan()).sent, 1);
  assert.deepEqual(await world.folder('Sent'), ['1700000001.M9P1.imap.test,S=60,W=65:2,S']);
});

test('a From: that is not the user refuses the message: reason in the INBOX, message in Drafts', async (t) => {
  const world = await outboxWorld(t);
  const name = await world.save('From: bob@example.test\nTo: carol@remote.test\nSubject: Pay me\n\nx\n');
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 1, held: 0, failed: 0 });
  assert.deepEqual(await world.messages(), [], 'nothing queued');
  assert.deepEqual(await world.folder('Outbox'), []);
  assert.deepEqual(await world.folder('Drafts'), [`${name}:2,`]);
  const [notice, ...more] = await inboxTexts(world);
  assert.equal(more.length, 0);
  assert.match(notice ?? '', /^From: Mail Delivery System <MAILER-DAEMON@mx\.example\.test>\r\n/);
  assert.match(notice ?? '', /\r\nTo: <alice@example\.test>\r\n/);
  assert.match(notice ?? '', /\r\nSubject: Outbox: not sent: Pay me\r\n/);
  assert.match(notice ?? '', /\r\nAuto-Submitted: auto-replied\r\n/);
  assert.match(notice ?? '', /From: address <bob@example\.test> is not one of yours \(alice@example\.test\)/);
  assert.match(notice ?? '', /Drafts folder/);
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 0, held: 0, failed: 0 }, 'not retried');
});

test('no From:, no recipients, an unknown local recipient: each refused with its reason', async (t) => {
  const world = await outboxWorld(t);
  await world.save('To: bob@example.test\nSubject: one\n\nx\n');
  await world.save('From: alice@example.test\nSubject: two\n\nx\n');
  await world.save(
    'From: alice@example.test\nTo: nobody@example.test, bob@example.test\nSubject: three\n\nx\n',
  );
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 3, held: 0, failed: 0 });
  assert.deepEqual(await world.messages(), []);
  const notices = (await inboxTexts(world)).join('\n');
  assert.match(notices, /not sent: one\r\n[\s\S]*has no From: address/);
  assert.match(notices, /not sent: two\r\n[\s\S]*has no recipients in To:, Cc: or Bcc:/);
  assert.match(notices, /not sent: three\r\n[\s\S]*<nobody@example\.test>: No such user here/);
  assert.equal((await world.folder('Drafts')).length, 3);
});

test('over the rate limit a message stays in the Outbox, the user is told once, and it goes later', async (t) => {
  const world = await outboxWorld(t, { messagesPerHour: 1 });
  await world.save('From: alice@example.test\nTo: bob@example.test\nSubject: first\n\nx\n');
  await world.save('From: alice@example.test\nTo: bob@example.test\nSubject: second\n\nx\n');
  assert.deepEqual(await world.watcher.scan(), { sent: 1, refused: 0, held: 1, failed: 0 });
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 0, held: 1, failed: 0 });
  const notices = await inboxTexts(world);
  assert.equal(notices.length, 1, 'one notice, however many scans');
  assert.match(notices[0] ?? '', /Subject: Outbox: not sent: second\r\n/);
  assert.match(notices[0] ?? '', /Rate limit for user alice@example\.test: 1 messages per hour/);
  assert.match(notices[0] ?? '', /stays in your Outbox/);
  assert.equal((await world.folder('Outbox')).length, 1);

  world.advance(2 * 3_600_000);
  assert.deepEqual(await world.watcher.scan(), { sent: 1, refused: 0, held: 0, failed: 0 });
  assert.equal((await world.messages()).length, 2);
  assert.deepEqual(await world.folder('Outbox'), []);
  assert.equal((await world.folder('Sent')).length, 2);
});

test('a message queued before the move failed is moved later and never queued twice', async (t) => {
  const world = await outboxWorld(t);
  const name = await world.save(LUNCH);
  // A file where the Sent folder should be: the rename after the enqueue fails, as a crash would stop it.
  const sentDir = join(world.mailRoot, DOMAIN, 'alice', '.Sent');
  await writeFile(sentDir, 'in the way');
  assert.deepEqual(await world.watcher.scan(), { sent: 0, refused: 0, held: 0, failed: 1 });
  assert.equal((await world.messages()).length, 1, 'queued once');
  assert.deepEqual(await world.folder('Outbox'), [name]);

  await rm(sentDir);
  assert.deepEqual(await world.watcher.scan(), { sent: 1, refused: 0, held: 0, failed: 0 });
  assert.equal((await world.messages()).length, 1, 'still once');
  assert.deepEqual(await world.folder('Sent'), [`${name}:2,S`]);
});

test('after a crash between enqueue and journal update the queue decides: queued means move only', async (t) => {
  const world = await outboxWorld(t);
  const queuedName = await world.save(LUNCH);
  const lostName = await world.save(LUNCH.replace('Lunch', 'Dinner'));
  // What a crash leaves: both marked pending; only the first id made it into the queue.
  const journal = new OutboxJournal(world.journalFile);
  t.after(() => journal.close());
  journal.set(`${ALICE}/${queuedName}`, 'pending', '01QUEUEDBEFORE00');
  journal.set(`${ALICE}/${lostName}`, 'pending', '01NEVERQUEUED000');
  await world.store.enqueue({
    id: '01QUEUEDBEFORE00',
    sender: ALICE,
    body: Buffer.from('Subject: Lunch\r\n\r\nx\r\n'),
    receivedAt: Date.now(),
    meta: {},
    recipients: [{ address: BOB, target: 'maildir' }],
  });
  assert.deepEqual(await world.watcher.scan(), { sent: 2, refused: 0, held: 0, failed: 0 });
  const messages = await world.messages();
  assert.equal(messages.length, 2, 'the queued one was not sent again; the lost one was sent');
  const resent = messages.find((message) => message.id !== '01QUEUEDBEFORE00');
  assert.equal(resent?.meta.outboxFile, `${ALICE}/${lostName}`);
  assert.equal((await world.folder('Sent')).length, 2);
  assert.equal(journal.get(`${ALICE}/${queuedName}`), undefined);
});

test('the watcher creates each user Outbox so mail clients list it', async (t) => {
  const world = await outboxWorld(t);
  await world.watcher.scan();
  for (const user of ['alice', 'bob']) {
    assert.deepEqual((await readdir(join(world.mailRoot, DOMAIN, user, '.Outbox'))).sort(), [
      'cur',
      'new',
      'tmp',
    ]);
  }
});

test('startOutboxWatcher scans on its own until stopped', async (t) => {
  const world = await outboxWorld(t);
  const name = await world.save(LUNCH);
  const running = startOutboxWatcher({
    store: world.store,
    recipients: new LocalRecipients(new Set([DOMAIN]), world.store),
    hostname: 'mx.example.test',
    defaultDomain: DOMAIN,
    mailRoot: world.mailRoot,
    journalFile: join(world.dir, 'running-outbox.db'),
    intervalMs: 20,
    logger: silentLogger(),
  });
  t.after(() => running.stop());
  for (let i = 0; i < 250 && (await world.folder('Sent')).length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(await world.folder('Sent'), [`${name}:2,S`]);
  await running.stop();
  await world.save(LUNCH, { name: 'after-stop' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(await world.folder('Outbox'), ['after-stop'], 'no scans after stop');
});

test('[outbox] config: off by default, interval as a duration', () => {
  assert.deepEqual(outboxConfigSchema.parse(undefined), {
    enabled: false,
    interval: 5000,
    database: 'outbox.db',
  });
  assert.equal(outboxConfigSchema.parse({ enabled: true, interval: '30s' }).interval, 30_000);
  assert.throws(() => outboxConfigSchema.parse({ interval: 'soon' }), /expected a duration/);
  assert.throws(() => outboxConfigSchema.parse({ intervall: '5s' }));
});

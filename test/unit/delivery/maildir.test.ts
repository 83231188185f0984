import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  createMaildirTarget,
  ensureMailbox,
  folderPath,
  listMaildir,
  messageFileName,
} from '../../../src/delivery/maildir/index.js';
import type { DeliveryBatch, RecipientResult } from '../../../src/delivery/types.js';
import type { LeasedRecipient } from '../../../src/queue/store/types.js';

const RECEIVED = 1_700_000_000_123;
const BODY = Buffer.from('Return-Path: <a@b.example>\r\nSubject: t\r\n\r\nbody\r\n');

async function world(t: TestContext): Promise<{ top: string; root: string }> {
  const top = await mkdtemp(join(tmpdir(), 'outpost-maildir-'));
  t.after(() => rm(top, { recursive: true, force: true }));
  const root = join(top, 'mail');
  await mkdir(root);
  return { top, root };
}

function rcpt(address: string, rcptIndex = 0, extra: Partial<LeasedRecipient> = {}): LeasedRecipient {
  return {
    messageId: '01HQUEUEID000000',
    rcptIndex,
    address,
    target: 'maildir',
    folder: '',
    status: 'queued',
    attempts: 0,
    nextAttemptAt: RECEIVED,
    updatedAt: RECEIVED,
    sender: 'a@b.example',
    receivedAt: RECEIVED,
    leaseUntil: RECEIVED + 60_000,
    recovered: false,
    ...extra,
  };
}

function batch(recipients: LeasedRecipient[]): DeliveryBatch {
  return {
    messageId: '01HQUEUEID000000',
    sender: 'a@b.example',
    receivedAt: RECEIVED,
    body: BODY,
    recipients,
  };
}

async function deliver(root: string, recipients: LeasedRecipient[]): Promise<RecipientResult[]> {
  const prepared = await createMaildirTarget({ root, hostname: 'mx.test' }).prepare(batch(recipients));
  return [...prepared.results, ...(await prepared.commit())];
}

function summary(results: RecipientResult[]): string[] {
  return results
    .sort((a, b) => a.rcptIndex - b.rcptIndex)
    .map((r) => `${r.rcptIndex} ${r.status} ${r.reply.code} ${r.reply.enhanced ?? ''}`.trim());
}

test('ensureMailbox creates INBOX and Junk, each with tmp, new and cur', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'Bob@Example.ORG');
  assert.equal(mailbox, join(root, 'example.org', 'bob'));
  for (const dir of ['tmp', 'new', 'cur', '.Junk/tmp', '.Junk/new', '.Junk/cur']) {
    assert.ok((await stat(join(mailbox, dir))).isDirectory(), dir);
  }
  assert.equal(await ensureMailbox(root, 'bob@example.org'), mailbox, 'idempotent');
  await assert.rejects(ensureMailbox(root, '../x@example.org'), { code: 'BAD_ADDRESS' });
});

test('prepare writes nothing visible; commit moves the message with Return-Path and Delivered-To into new/', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'bob@example.org');
  const target = createMaildirTarget({ root, hostname: 'mx.test' });
  const prepared = await target.prepare(batch([rcpt('Bob@example.org', 3)]));
  assert.deepEqual(prepared.results, []);
  assert.deepEqual(await listMaildir(root, 'bob@example.org'), [], 'not visible after phase 1');
  assert.equal((await readdir(join(mailbox, 'tmp'))).length, 1);
  assert.deepEqual(summary(await prepared.commit()), ['3 delivered 250 2.0.0']);
  const files = await listMaildir(root, 'bob@example.org');
  assert.equal(files.length, 1);
  const name = messageFileName(RECEIVED, '01HQUEUEID000000', 3, 'mx.test');
  assert.equal(name, '1700000000.Q01HQUEUEID000000R3.mx.test');
  assert.equal(files[0], join(mailbox, 'new', name));
  const trace = 'Return-Path: <a@b.example>\r\nDelivered-To: Bob@example.org\r\n';
  assert.deepEqual(await readFile(join(mailbox, 'new', name)), Buffer.concat([Buffer.from(trace), BODY]));
  assert.deepEqual(await readdir(join(mailbox, 'tmp')), []);
});

test('abort removes the temporary copies', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'bob@example.org');
  const prepared = await createMaildirTarget({ root }).prepare(batch([rcpt('bob@example.org')]));
  await prepared.abort();
  assert.deepEqual(await readdir(join(mailbox, 'tmp')), []);
  assert.deepEqual(await listMaildir(root, 'bob@example.org'), []);
});

test('delivering the same recipient again replaces its copy instead of adding one', async (t) => {
  const { root } = await world(t);
  await ensureMailbox(root, 'bob@example.org');
  assert.deepEqual(summary(await deliver(root, [rcpt('bob@example.org')])), ['0 delivered 250 2.0.0']);
  assert.deepEqual(summary(await deliver(root, [rcpt('bob@example.org', 0, { recovered: true })])), [
    '0 delivered 250 2.0.0',
  ]);
  assert.equal((await listMaildir(root, 'bob@example.org')).length, 1);
});

test('a copy the mail client already moved to cur/ counts as delivered when the lease was recovered', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'bob@example.org');
  await deliver(root, [rcpt('bob@example.org')]);
  const [file] = await listMaildir(root, 'bob@example.org');
  assert.ok(file);
  await rename(file, join(mailbox, 'cur', `${basename(file)}:2,S`));
  const results = await deliver(root, [rcpt('bob@example.org', 0, { recovered: true })]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0']);
  assert.match(results[0]?.reply.text ?? '', /earlier/);
  assert.deepEqual(await readdir(join(mailbox, 'new')), []);
  assert.deepEqual(await readdir(join(mailbox, 'tmp')), []);
  assert.equal((await listMaildir(root, 'bob@example.org')).length, 1);
});

test('an unknown mailbox fails permanently with 5.1.1', async (t) => {
  const { root } = await world(t);
  assert.deepEqual(summary(await deliver(root, [rcpt('nobody@example.org')])), ['0 failed 550 5.1.1']);
  assert.deepEqual(await readdir(root), [], 'no mailbox is created for an unknown user');
});

test('path tricks fail with 5.1.3 and never write outside the root', async (t) => {
  const { top, root } = await world(t);
  await ensureMailbox(root, 'bob@example.org');
  const tricks = [
    '../escape@example.org',
    'a/../../b@example.org',
    '.hidden@example.org',
    'nul\0byte@example.org',
    'bob@../..',
    'bob@.',
    'back\\slash@example.org',
    'no-domain',
  ];
  const results = await deliver(
    root,
    tricks.map((address, index) => rcpt(address, index)),
  );
  assert.deepEqual(
    summary(results),
    tricks.map((_, index) => `${index} failed 550 5.1.3`),
  );
  const folderTrick = await deliver(root, [rcpt('bob@example.org', 0, { folder: '../../../x' })]);
  assert.deepEqual(summary(folderTrick), ['0 failed 550 5.1.3']);
  assert.deepEqual(await readdir(top), ['mail']);
  assert.deepEqual(await readdir(root), ['example.org']);
  assert.equal(folderPath(root, 'x@example.org', '.Junk'), undefined);
});

test('folder Junk lands in .Junk/new, created on demand when missing', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'bob@example.org');
  await rm(join(mailbox, '.Junk'), { recursive: true });
  const results = await deliver(root, [rcpt('bob@example.org', 0, { folder: 'Junk' })]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0']);
  assert.equal((await listMaildir(root, 'bob@example.org', 'Junk')).length, 1);
  assert.deepEqual(await listMaildir(root, 'bob@example.org'), []);
});

test('a full disk defers with 4.3.1 and leaves no temporary file (fs.promises.open mocked)', async (t) => {
  const { root } = await world(t);
  const mailbox = await ensureMailbox(root, 'bob@example.org');
  const realOpen = fsp.open;
  t.mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (!String(args[0]).includes(`${join(mailbox, 'tmp')}`)) return handle;
    return Object.assign(Object.create(handle) as typeof handle, {
      writeFile: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
      close: () => handle.close(),
    });
  });
  // The target imports `open` from node:fs/promises; this makes that binding see the mock.
  syncBuiltinESMExports();
  t.after(() => syncBuiltinESMExports());
  const results = await deliver(root, [rcpt('bob@example.org')]);
  t.mock.restoreAll();
  syncBuiltinESMExports();
  assert.deepEqual(summary(results), ['0 deferred 452 4.3.1']);
  assert.deepEqual(await readdir(join(mailbox, 'tmp')), []);
  assert.deepEqual(await listMaildir(root, 'bob@example.org'), []);
});

test('recipients of one message each get their own copy and result', async (t) => {
  const { root } = await world(t);
  await ensureMailbox(root, 'bob@example.org');
  await ensureMailbox(root, 'carol@example.org');
  const results = await deliver(root, [
    rcpt('bob@example.org', 0),
    rcpt('ghost@example.org', 1),
    rcpt('carol@example.org', 2),
  ]);
  assert.deepEqual(summary(results), [
    '0 delivered 250 2.0.0',
    '1 failed 550 5.1.1',
    '2 delivered 250 2.0.0',
  ]);
  assert.equal((await listMaildir(root, 'carol@example.org')).length, 1);
});

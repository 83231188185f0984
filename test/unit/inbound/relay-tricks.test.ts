import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/core/log.js';
import { ensureMailbox } from '../../../src/delivery/maildir/index.js';
import { dataLayout, type RunningOutpost, startOutpost } from '../../../src/server/outpost.js';
import { smtpConnect } from '../../helpers/smtp-client.js';

const OURS = 'ours.test';

/** A whole outpost with one MX listener on a free loopback port, and the mailbox user@ours.test. */
async function startMx(t: TestContext): Promise<{ outpost: RunningOutpost; port: number }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-relay-'));
  const config = parseConfig(
    {
      hostname: `mx.${OURS}`,
      data_dir: dataDir,
      domains: [OURS],
      log_level: 'silent',
      http: { address: '127.0.0.1:0', token: 'relay-tricks-token-0000' },
      listeners: [{ name: 'mx', profile: 'mx', address: '127.0.0.1:0' }],
    },
    '<relay tricks>',
    {},
  );
  const outpost = await startOutpost(config, silentLogger());
  t.after(async () => {
    await outpost.stop({ timeoutMs: 1000 });
    await rm(dataDir, { recursive: true, force: true });
  });
  await ensureMailbox(dataLayout(config).mail, `user@${OURS}`);
  await outpost.store.addUser({ address: `user@${OURS}`, settings: {}, createdAt: Date.now() });
  const mx = outpost.listening.find((entry) => entry.name === 'mx');
  assert.ok(mx);
  return { outpost, port: mx.port };
}

// Each would reach remote.test through a mailer that still honours the old routing syntax.
const TRICKS = [
  ['plain remote recipient', 'user@remote.test'],
  ['percent hack', `user%remote.test@${OURS}`],
  ['percent hack, two hops', `user%remote.test%relay.test@${OURS}`],
  ['bang path', `remote.test!user@${OURS}`],
  ['source route through us', `@${OURS}:user@remote.test`],
  ['source route, two hops', `@${OURS},@relay.test:user@remote.test`],
  ['quoted local part with @', `"user@remote.test"@${OURS}`],
  ['quoted percent hack', `"user%remote.test"@${OURS}`],
  ['address literal', 'user@[192.0.2.1]'],
] as const;

test('the MX refuses every classic relay trick and queues nothing for them', async (t) => {
  const { outpost, port } = await startMx(t);
  const client = await smtpConnect(port);
  t.after(() => client.close());
  assert.equal((await client.send('EHLO attacker.test')).code, 250);
  assert.equal((await client.send('MAIL FROM:<spammer@attacker.test>')).code, 250);
  for (const [name, address] of TRICKS) {
    const reply = await client.send(`RCPT TO:<${address}>`);
    assert.ok(reply.code >= 550 && reply.code < 560, `${name} <${address}>: ${reply.code} ${reply.text}`);
  }
  // Control: the same session still delivers to our real mailbox, and only that is queued.
  assert.equal((await client.send(`RCPT TO:<user@${OURS}>`)).code, 250);
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw('Subject: test\r\n\r\nhello\r\n.\r\n');
  assert.equal((await client.readReply()).code, 250);
  const rows = await outpost.store.list({});
  assert.deepEqual(
    rows.map((row) => [row.address, row.target]),
    [[`user@${OURS}`, 'maildir']],
  );
});

test('routing in a local part of our domain is relay denied (554 5.7.1), not merely unknown', async (t) => {
  const { port } = await startMx(t);
  const client = await smtpConnect(port);
  t.after(() => client.close());
  await client.send('EHLO attacker.test');
  await client.send('MAIL FROM:<spammer@attacker.test>');
  for (const [, address] of TRICKS) {
    const reply = await client.send(`RCPT TO:<${address}>`);
    assert.equal(reply.code, 554, `<${address}>: ${reply.text}`);
    assert.equal(reply.enhanced, '5.7.1');
    assert.equal(reply.text, 'Relay access denied');
  }
});

test('the MX offers no AUTH, so no client can authenticate its way into relaying', async (t) => {
  const { port } = await startMx(t);
  const client = await smtpConnect(port);
  t.after(() => client.close());
  assert.equal((await client.send('EHLO attacker.test')).code, 250);
  assert.equal((await client.startTls()).code, 220);
  const ehlo = await client.send('EHLO attacker.test');
  assert.doesNotMatch(ehlo.text, /AUTH/);
  assert.equal((await client.send('AUTH PLAIN AHVzZXIAcGFzc3dvcmQ=')).code, 502);
  await client.send('MAIL FROM:<user@ours.test>');
  assert.equal((await client.send('RCPT TO:<someone@remote.test>')).code, 554);
});

// The whole post office as a user runs it: `outpost serve` in its own process, real SMTP over TCP,
// real Maildirs, the HTTP API, and the signals an init system sends.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startOutpostProcess, tempDataDir } from '../helpers/outpost-process.js';
import { smtpConnect } from '../helpers/smtp-client.js';

/** Waits (bounded) until a Maildir `new/` folder holds `count` files; returns their contents. */
async function waitForMaildir(dir: string, count: number, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = await readdir(dir).catch(() => [] as string[]);
    if (names.length >= count || Date.now() > deadline) {
      return Promise.all(names.map((name) => readFile(path.join(dir, name), 'utf8')));
    }
    await sleep(50);
  }
}

test('mail for a local user goes from SMTP into the Maildir; unknown users and relaying are refused', async (t) => {
  const data = await tempDataDir(t);
  const added = await runCli(['user', 'add', 'alice@localhost', '--data', data]);
  assert.equal(added.code, 0, added.stderr);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));

  const client = await smtpConnect(outpost.smtpPort);
  t.after(() => client.close());
  assert.equal(client.greeting.code, 220);
  const ehlo = await client.send('EHLO client.test');
  for (const extension of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE', 'ENHANCEDSTATUSCODES']) {
    assert.ok(
      ehlo.lines.some((line) => line.startsWith(extension)),
      `EHLO offers ${extension}: ${ehlo.text}`,
    );
  }
  const accepted = await client.sendMail({
    from: 'bob@example.org',
    to: ['alice@localhost'],
    body: 'Subject: first\r\n\r\nHello Alice.\r\n',
    ehlo: false,
  });
  assert.equal(accepted.code, 250, accepted.text);
  const queueId = /queued as (\S+)/.exec(accepted.text)?.[1];
  assert.ok(queueId, `the 250 reply names the queue id: ${accepted.text}`);

  const [delivered] = await waitForMaildir(path.join(data, 'mail/localhost/alice/new'), 1);
  assert.ok(delivered, 'the message is in alice/new');
  assert.match(delivered, /^Return-Path: <bob@example.org>\r\n/m);
  assert.match(
    delivered,
    new RegExp(
      `^Received: from client.test [^\\r]*\\r\\n\\tby mx.test \\(outpost\\) with ESMTP id ${queueId}`,
      'm',
    ),
  );
  assert.match(delivered, /^Message-ID: </m);
  assert.match(delivered, /^Date: /m);
  assert.match(delivered, /Hello Alice\.\r\n$/);

  assert.equal((await client.send('MAIL FROM:<bob@example.org>')).code, 250);
  const unknown = await client.send('RCPT TO:<nobody@localhost>');
  assert.deepEqual([unknown.code, unknown.enhanced], [550, '5.1.1']);
  const relay = await client.send('RCPT TO:<victim@elsewhere.example>');
  assert.equal(relay.code, 554);
  assert.equal(relay.enhanced, '5.7.1');
  const postmaster = await client.send('RCPT TO:<Postmaster>');
  assert.equal(postmaster.code, 250, 'postmaster always exists (RFC 5321 4.5.1)');
  await client.send('RSET');

  const shown = await runCli(['queue', 'show', queueId, '--data', data]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /alice@localhost/);
  assert.match(shown.stdout, /delivered/);
});

test('the HTTP API answers health openly and the queue only with the token, errors as JSON with a code', async (t) => {
  const data = await tempDataDir(t);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${outpost.httpPort}`;

  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  const anonymous = await fetch(`${base}/api/queue`);
  assert.equal(anonymous.status, 401);
  const refusal = (await anonymous.json()) as { error: { code: string } };
  assert.equal(typeof refusal.error.code, 'string');

  const authorized = await fetch(`${base}/api/queue`, {
    headers: { authorization: 'Bearer test-token-0123456789' },
  });
  assert.equal(authorized.status, 200);
  assert.deepEqual(await authorized.json(), { recipients: [] });

  const missing = await fetch(`${base}/api/queue/NOSUCHID`, {
    headers: { authorization: 'Bearer test-token-0123456789' },
  });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
});

test('SIGTERM: new connections get 421, an open transaction completes, the process exits 0', async (t) => {
  const data = await tempDataDir(t);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));

  const open = await smtpConnect(outpost.smtpPort);
  t.after(() => open.close());
  await open.send('EHLO client.test');
  await open.send('MAIL FROM:<bob@example.org>');
  assert.equal((await open.send('RCPT TO:<postmaster@localhost>')).code, 250);
  assert.equal((await open.send('DATA')).code, 354);

  outpost.child.kill('SIGTERM');
  await sleep(300);
  const late = await smtpConnect(outpost.smtpPort).then(
    (client) => client.greeting.code,
    () => 'refused',
  );
  assert.ok(late === 421 || late === 'refused', `a new connection after SIGTERM: ${late}`);

  open.sendRaw('Subject: in flight\r\n\r\nfinished after SIGTERM\r\n.\r\n');
  const finished = await open.readReply();
  assert.equal(finished.code, 250, finished.text);
  assert.equal(await outpost.exited, 0);
  // Acknowledged means durable: whether or not it was delivered before the exit, the next start has it.
  const restarted = await startOutpostProcess(data);
  t.after(() => restarted.child.kill('SIGKILL'));
  const files = await waitForMaildir(path.join(data, 'mail/localhost/postmaster/new'), 1);
  assert.equal(files.length, 1, 'the in-flight message is delivered exactly once');
  assert.match(files[0] ?? '', /finished after SIGTERM/);
});

test('SIGHUP reloads the config: a newly added domain is accepted without a restart', async (t) => {
  const data = await tempDataDir(t);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));

  const before = await smtpConnect(outpost.smtpPort);
  await before.send('EHLO client.test');
  await before.send('MAIL FROM:<bob@example.org>');
  assert.equal((await before.send('RCPT TO:<postmaster@added.test>')).code, 554);
  await before.close();

  const configFile = path.join(data, 'outpost.toml');
  const config = await readFile(configFile, 'utf8');
  await writeFile(
    configFile,
    config.replace('domains = ["localhost"]', 'domains = ["localhost", "added.test"]'),
  );
  outpost.child.kill('SIGHUP');
  const deadline = Date.now() + 10_000;
  while (!outpost.stdout().includes('configuration reloaded') && Date.now() < deadline) await sleep(50);
  assert.match(outpost.stdout(), /SIGHUP: configuration reloaded/);

  const after = await smtpConnect(outpost.smtpPort);
  t.after(() => after.close());
  await after.send('EHLO client.test');
  await after.send('MAIL FROM:<bob@example.org>');
  assert.equal((await after.send('RCPT TO:<postmaster@added.test>')).code, 250);
});

test('SIGHUP with a broken config keeps the running one and names the key', async (t) => {
  const data = await tempDataDir(t);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));
  const configFile = path.join(data, 'outpost.toml');
  const config = await readFile(configFile, 'utf8');
  await writeFile(configFile, config.replace('log_level = "warn"', 'log_level = "loud"'));
  outpost.child.kill('SIGHUP');
  const deadline = Date.now() + 30_000;
  while (!outpost.stderr().includes('not reloaded') && Date.now() < deadline) await sleep(50);
  assert.match(
    outpost.stderr(),
    /config not reloaded/,
    `no refusal of the broken config; stdout:\n${outpost.stdout()}\nstderr:\n${outpost.stderr()}`,
  );
  assert.match(outpost.stderr(), /log_level/);
  const client = await smtpConnect(outpost.smtpPort);
  t.after(() => client.close());
  assert.equal(client.greeting.code, 220, 'still serving');
});

test('a node that runs a trust list serves it on the HTTP API and in the admin console', async (t) => {
  const data = await tempDataDir(t);
  const added = await runCli([
    'trustlist',
    'add',
    '192.0.2.0/24',
    '--category',
    '3',
    '--trust',
    '2',
    '--data',
    data,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${outpost.httpPort}`;
  const entries = await fetch(`${base}/api/trustlist/entries`, {
    headers: { authorization: 'Bearer test-token-0123456789' },
  });
  assert.equal(entries.status, 200);
  const body = (await entries.json()) as { entries: { network: string }[] };
  assert.deepEqual(
    body.entries.map((entry) => entry.network),
    ['192.0.2.0/24'],
  );
  assert.equal((await fetch(`${base}/api/trustlist/entries`)).status, 401);
});

test('SIGHUP applies a listener’s new checks to new transactions', async (t) => {
  const data = await tempDataDir(t);
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));
  const rcpt = async () => {
    const client = await smtpConnect(outpost.smtpPort);
    try {
      await client.send('EHLO client.test');
      await client.send('MAIL FROM:<bob@example.org>');
      return await client.send('RCPT TO:<postmaster@localhost>');
    } finally {
      await client.close();
    }
  };
  assert.equal((await rcpt()).code, 250);

  const configFile = path.join(data, 'outpost.toml');
  const config = await readFile(configFile, 'utf8');
  await writeFile(configFile, `${config}[[listeners.checks]]\nuse = "greylist"\n`);
  outpost.child.kill('SIGHUP');
  const deadline = Date.now() + 10_000;
  while (!outpost.stdout().includes('configuration reloaded') && Date.now() < deadline) await sleep(50);
  const greylisted = await rcpt();
  assert.deepEqual([greylisted.code, greylisted.enhanced], [451, '4.7.1'], greylisted.text);
});

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createSmtpTarget, type SmtpTargetOptions } from '../../../../src/delivery/smtp/index.js';
import { startTestDns } from '../../../helpers/dns.js';
import { makeTlsMaterial } from '../../smtp/tls-material.js';
import { BODY, batch, deliver, rcpt, sharedPort, startReceiver, summary } from './world.js';

// mx1 (pref 10) on 127.0.0.2, mx2 (pref 20) on 127.0.0.3; 127.0.0.4 never listens.
const ZONE = `
  $ORIGIN dest.test.
  @ MX 10 mx1.dest.test.
    MX 20 mx2.dest.test.
  mx1 A 127.0.0.2
  mx2 A 127.0.0.3
  $ORIGIN down.test.
  @ MX 10 mx.down.test.
    MX 20 mx2.down.test.
  mx A 127.0.0.4
  mx2 A 127.0.0.5
  $ORIGIN bare.test.
  @ A 127.0.0.2
  $ORIGIN nullmx.test.
  @ MX 0 .
  $ORIGIN deadmx.test.
  @ MX 10 mx.down.test.
    MX 20 mx2.dest.test.
`;

async function world(t: TestContext, extra: Partial<SmtpTargetOptions> = {}) {
  const dns = await startTestDns(t, ZONE);
  const port = await sharedPort();
  const target = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    port,
    localAddress: '127.0.0.1',
    connectTimeoutMs: 2000,
    commandTimeoutMs: 5000,
    dataTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    ...extra,
  });
  t.after(() => target.close());
  return { dns, port, target };
}

test('delivers to the lowest-preference MX and leaves the others alone', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  const mx2 = await startReceiver(t, { ip: '127.0.0.3', port });
  const results = await deliver(target, [rcpt('bob@dest.test'), rcpt('carol@DEST.test', 1)]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0', '1 delivered 250 2.0.0']);
  assert.equal(mx1.messages.length, 1, 'one transaction carries both recipients');
  assert.deepEqual(
    mx1.messages[0]?.recipients.map((r) => r.address),
    ['bob@dest.test', 'carol@DEST.test'],
  );
  assert.equal(
    mx1.messages[0]?.body.toString(),
    BODY.toString(),
    'the body arrives byte for byte (dot line too)',
  );
  assert.equal(mx2.connections, 0);
});

test('a 554 greeting at the trusted MX moves on to the untrusted one', async (t) => {
  const { port, target } = await world(t);
  const trusted = await startReceiver(t, { ip: '127.0.0.2', port, refuseGreeting: true });
  const untrusted = await startReceiver(t, { ip: '127.0.0.3', port });
  const results = await deliver(target, [rcpt('bob@dest.test')]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0']);
  assert.equal(trusted.connections, 1);
  assert.equal(trusted.messages.length, 0);
  assert.equal(untrusted.messages.length, 1);
});

test('an MX that does not answer is skipped', async (t) => {
  const { port, target } = await world(t);
  const mx2 = await startReceiver(t, { ip: '127.0.0.3', port });
  const results = await deliver(target, [rcpt('bob@deadmx.test')]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0']);
  assert.equal(mx2.messages.length, 1);
});

test('every MX down: deferred, naming the last problem', async (t) => {
  const { target } = await world(t);
  const [result] = await deliver(target, [rcpt('bob@down.test')]);
  assert.equal(result?.status, 'deferred');
  assert.equal(result?.reply.code, 451);
  assert.match(result?.reply.text ?? '', /mx2\.down\.test\[127\.0\.0\.5\]/);
});

test('every MX refusing at the greeting: deferred, not failed', async (t) => {
  const { port, target } = await world(t);
  await startReceiver(t, { ip: '127.0.0.2', port, refuseGreeting: true });
  await startReceiver(t, { ip: '127.0.0.3', port, refuseGreeting: true });
  const [result] = await deliver(target, [rcpt('bob@dest.test')]);
  assert.equal(result?.status, 'deferred');
  assert.match(result?.reply.text ?? '', /refused the connection: 554 5\.7\.1/);
});

test('no MX: the address records of the domain itself', async (t) => {
  const { port, target } = await world(t);
  const host = await startReceiver(t, { ip: '127.0.0.2', port });
  assert.deepEqual(summary(await deliver(target, [rcpt('bob@bare.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(host.messages.length, 1);
});

test('null MX fails at once with 556 5.1.10; an unknown domain fails; a DNS failure defers', async (t) => {
  const { target } = await world(t);
  const results = await deliver(target, [
    rcpt('bob@nullmx.test'),
    rcpt('bob@nowhere.dest.test', 1),
    rcpt('bob@outside.example', 2),
    rcpt('no-domain', 3),
  ]);
  assert.deepEqual(summary(results), [
    '0 failed 556 5.1.10',
    '1 failed 550 5.1.2',
    '2 deferred 451 4.4.3',
    '3 failed 553 5.1.3',
  ]);
});

test('RCPT replies count per recipient: 4xx deferred, 5xx failed, DATA only for the accepted', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, {
    ip: '127.0.0.2',
    port,
    rcpt: (address) => {
      if (address.startsWith('busy')) return { code: 450, enhanced: '4.2.1', text: 'Mailbox busy' };
      if (address.startsWith('nobody')) return { code: 550, enhanced: '5.1.1', text: 'No such user' };
      return undefined;
    },
  });
  const prepared = await target.prepare(
    batch([rcpt('busy@dest.test'), rcpt('nobody@dest.test', 1), rcpt('bob@dest.test', 2)]),
  );
  assert.deepEqual(summary(prepared.results.sort((a, b) => a.rcptIndex - b.rcptIndex)), [
    '0 deferred 450 4.2.1',
    '1 failed 550 5.1.1',
  ]);
  assert.equal(mx1.messages.length, 0, 'nothing is sent before commit');
  assert.deepEqual(summary(await prepared.commit()), ['2 delivered 250 2.0.0']);
  assert.deepEqual(
    mx1.messages[0]?.recipients.map((r) => r.address),
    ['bob@dest.test'],
  );
});

test('abort sends RSET: nothing delivered, and the connection serves the next message', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  const prepared = await target.prepare(batch([rcpt('bob@dest.test')]));
  await prepared.abort();
  assert.equal(mx1.messages.length, 0);
  assert.deepEqual(summary(await deliver(target, [rcpt('bob@dest.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(mx1.connections, 1);
});

test('consecutive messages to one destination share one connection', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(summary(await deliver(target, [rcpt(`u${i}@dest.test`)])), ['0 delivered 250 2.0.0']);
  }
  assert.equal(mx1.messages.length, 3);
  assert.equal(mx1.connections, 1);
  assert.equal(target.idleConnections(), 1);
});

test('max messages per connection opens a new one', async (t) => {
  const { port, target } = await world(t, { maxMessagesPerConnection: 2 });
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  for (let i = 0; i < 3; i++) await deliver(target, [rcpt(`u${i}@dest.test`)]);
  assert.equal(mx1.messages.length, 3);
  assert.equal(mx1.connections, 2);
});

test('STARTTLS is used when offered, without checking the certificate', async (t) => {
  const tls = makeTlsMaterial();
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, {
    ip: '127.0.0.2',
    port,
    tls: { key: tls.serverKey, cert: tls.serverCert },
  });
  assert.deepEqual(summary(await deliver(target, [rcpt('bob@dest.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(mx1.messages[0]?.session.secure, true);
});

test('policy tls=required: a server without STARTTLS gets nothing, the mail is deferred 4.7.10', async (t) => {
  const { port, target } = await world(t, { policies: [{ domain: 'dest.test', tls: 'required' }] });
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  const mx2 = await startReceiver(t, { ip: '127.0.0.3', port });
  const [result] = await deliver(target, [rcpt('bob@dest.test')]);
  assert.equal(result?.status, 'deferred');
  assert.equal(result?.reply.enhanced, '4.7.10');
  assert.equal(mx1.mails.length + mx2.mails.length, 0, 'no MAIL FROM in plaintext');
});

test('policy tls=verify refuses a certificate from an unknown CA, accepts it with the CA given', async (t) => {
  const tls = makeTlsMaterial();
  const serverTls = { key: tls.serverKey, cert: tls.serverCert };
  const port = await sharedPort();
  // The certificate names mx.outpost.test: publish the MX under that name.
  const verifyZone = await startTestDns(
    t,
    `
    $ORIGIN verify.test.
    @ MX 10 mx.outpost.test.
    $ORIGIN outpost.test.
    mx A 127.0.0.2
  `,
  );
  const mx = await startReceiver(t, { ip: '127.0.0.2', port, tls: serverTls });
  const common = { resolver: verifyZone.resolver, port, heloName: 'sender.test', commandTimeoutMs: 5000 };
  const policies = [{ domain: 'verify.test', tls: 'verify' as const }];
  const untrusting = createSmtpTarget({ ...common, policies });
  t.after(() => untrusting.close());
  const [refused] = await deliver(untrusting, [rcpt('bob@verify.test')]);
  assert.equal(refused?.status, 'deferred');
  assert.equal(refused?.reply.enhanced, '4.7.10');
  assert.equal(mx.mails.length, 0);
  const trusting = createSmtpTarget({ ...common, policies, tlsCa: tls.ca });
  t.after(() => trusting.close());
  assert.deepEqual(summary(await deliver(trusting, [rcpt('bob@verify.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(mx.messages[0]?.session.secure, true);
});

test('DSN parameters are passed on when the server offers DSN', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port, dsn: true });
  const recipients = [
    rcpt('bob@dest.test', 0, { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;Bob+tag@dest.test' }),
    rcpt('carol@dest.test', 1, { notify: [] }),
  ];
  const results = await deliver(target, recipients, { envid: 'env id=1', ret: 'HDRS' });
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0', '1 delivered 250 2.0.0']);
  assert.equal(results[0]?.relayed, undefined, 'the next hop sends its own success notice');
  assert.equal(mx1.mails[0]?.params.ret, 'HDRS');
  assert.equal(mx1.mails[0]?.params.envid, 'env id=1');
  const arrived = mx1.messages[0]?.recipients ?? [];
  assert.deepEqual(arrived[0]?.params, { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;Bob+tag@dest.test' });
  assert.deepEqual(arrived[1]?.params, { notify: [] });
});

test('without DSN at the next hop, NOTIFY=SUCCESS recipients are reported relayed', async (t) => {
  const { port, target } = await world(t);
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port, dsn: false });
  const results = await deliver(
    target,
    [rcpt('bob@dest.test', 0, { notify: ['SUCCESS'] }), rcpt('carol@dest.test', 1, { notify: ['FAILURE'] })],
    { envid: 'x', ret: 'FULL' },
  );
  assert.deepEqual(
    results.map((r) => [r.status, r.relayed === true]),
    [
      ['delivered', true],
      ['delivered', false],
    ],
  );
  assert.deepEqual(mx1.mails[0]?.params, { smtputf8: false, size: BODY.length });
});

test('XGEN is sent before MAIL when the server offers it, and not otherwise', async (t) => {
  const { port, target } = await world(t, { xgen: () => 'gen.test 3 AAAA' });
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port, xgen: { code: 250, text: 'noted' } });
  await deliver(target, [rcpt('bob@dest.test')]);
  assert.deepEqual(mx1.events, ['XGEN gen.test 3 AAAA', 'MAIL a@sender.test']);

  const plainWorld = await world(t, { xgen: () => 'gen.test 3 AAAA' });
  const other = await startReceiver(t, { ip: '127.0.0.2', port: plainWorld.port });
  await deliver(plainWorld.target, [rcpt('bob@dest.test')]);
  assert.deepEqual(other.events, ['MAIL a@sender.test']);
});

test('a refused XGEN is not fatal: MAIL follows', async (t) => {
  const { port, target } = await world(t, { xgen: () => 'not a cookie' });
  const mx1 = await startReceiver(t, {
    ip: '127.0.0.2',
    port,
    xgen: { code: 501, enhanced: '5.5.4', text: 'Syntax: XGEN <zone> <epoch> <base64 cookie>' },
  });
  const results = await deliver(target, [rcpt('bob@dest.test')]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0']);
  assert.deepEqual(mx1.events, ['XGEN not a cookie', 'MAIL a@sender.test']);
  assert.equal(mx1.messages.length, 1);
});

test('the signing hook runs once per message and its output is what is sent', async (t) => {
  let calls = 0;
  const { port, target } = await world(t, {
    sign: (body, sender) => {
      calls++;
      return Buffer.concat([Buffer.from(`X-Signed-For: ${sender}\r\n`), body]);
    },
  });
  await startReceiver(t, { ip: '127.0.0.2', port });
  const other = await startReceiver(t, { ip: '127.0.0.5', port });
  const results = await deliver(target, [rcpt('bob@dest.test'), rcpt('eve@[127.0.0.5]', 1)]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0', '1 delivered 250 2.0.0']);
  assert.equal(calls, 1);
  assert.match(other.messages[0]?.body.toString() ?? '', /^X-Signed-For: a@sender\.test\r\nFrom:/);
});

test('smarthost: every recipient goes there, over STARTTLS, with AUTH', async (t) => {
  const tls = makeTlsMaterial();
  const credentials = { username: 'relay-user', password: 's3cret pass' };
  const { port } = await world(t);
  const relay = await startReceiver(t, {
    ip: '127.0.0.6',
    port,
    tls: { key: tls.serverKey, cert: tls.serverCert },
    auth: credentials,
  });
  const dns = await startTestDns(t, '$ORIGIN relay.test.\nsmtp A 127.0.0.6\n');
  const target = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    smarthost: { host: 'smtp.relay.test', port, tls: 'starttls', ...credentials },
  });
  t.after(() => target.close());
  const results = await deliver(target, [rcpt('bob@dest.test'), rcpt('x@anywhere.example', 1)]);
  assert.deepEqual(summary(results), ['0 delivered 250 2.0.0', '1 delivered 250 2.0.0']);
  assert.deepEqual(relay.logins, [credentials]);
  assert.equal(relay.messages.length, 1);
  assert.equal(relay.messages[0]?.session.user, 'relay-user');
  assert.equal(relay.messages[0]?.session.secure, true);

  const wrong = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    smarthost: { host: 'smtp.relay.test', port, tls: 'starttls', username: 'relay-user', password: 'nope' },
  });
  t.after(() => wrong.close());
  const [refused] = await deliver(wrong, [rcpt('bob@dest.test')]);
  assert.equal(refused?.status, 'deferred', 'bad credentials wait for the operator');
  assert.equal(refused?.reply.enhanced, '4.7.8');
});

test('rate limit per destination defers with 4.7.0 "rate limit for <dest>"', async (t) => {
  let now = 1_000_000;
  const { port, target } = await world(t, { ratePerMinute: 2, clock: () => now });
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  await startReceiver(t, { ip: '127.0.0.5', port });
  await deliver(target, [rcpt('a@dest.test')]);
  await deliver(target, [rcpt('b@dest.test')]);
  const [limited] = await deliver(target, [rcpt('c@dest.test')]);
  assert.equal(limited?.status, 'deferred');
  assert.equal(limited?.reply.enhanced, '4.7.0');
  assert.equal(limited?.reply.text, 'rate limit for dest.test');
  assert.deepEqual(
    summary(await deliver(target, [rcpt('d@[127.0.0.5]')])),
    ['0 delivered 250 2.0.0'],
    'others go on',
  );
  now += 61_000;
  assert.deepEqual(summary(await deliver(target, [rcpt('e@dest.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(mx1.messages.length, 3);
});

test('concurrency limit per destination: a second delivery waits, then is deferred when no slot frees', async (t) => {
  const { port, target } = await world(t, { maxPerDestination: 1, slotWaitMs: 200 });
  const mx1 = await startReceiver(t, { ip: '127.0.0.2', port });
  const first = await target.prepare(batch([rcpt('a@dest.test')]));
  const [waited] = await deliver(target, [rcpt('b@dest.test')]);
  assert.equal(waited?.status, 'deferred');
  assert.equal(waited?.reply.text, 'concurrency limit for dest.test');
  assert.deepEqual(summary(await first.commit()), ['0 delivered 250 2.0.0']);
  assert.deepEqual(summary(await deliver(target, [rcpt('c@dest.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(mx1.messages.length, 2);
});

test('a pooled connection the server has closed is noticed and replaced', async (t) => {
  const { port, target } = await world(t);
  const before = await startReceiver(t, { ip: '127.0.0.2', port });
  await deliver(target, [rcpt('a@dest.test')]);
  assert.equal(target.idleConnections(), 1);
  await before.close();
  const after = await startReceiver(t, { ip: '127.0.0.2', port });
  assert.deepEqual(summary(await deliver(target, [rcpt('b@dest.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(after.messages.length, 1);
  assert.equal(after.connections, 1);
});

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import {
  smtpDeliveryConfigSchema,
  smtpTargetOptionsFromConfig,
} from '../../../../src/delivery/smtp/config.js';
import {
  createSmtpTarget,
  encodeDataBody,
  encodeXtext,
  mailCommand,
  orderExchanges,
  parseReplyLines,
  routeFor,
} from '../../../../src/delivery/smtp/index.js';
import { decodeXtext } from '../../../../src/protocol/smtp/params.js';
import { startTestDns } from '../../../helpers/dns.js';
import { listenForTest } from '../../../helpers/net.js';
import { deliver, rcpt, summary } from './world.js';

test('equal-preference MX hosts are shuffled, lower preferences always first', async (t) => {
  const dns = await startTestDns(
    t,
    `
    $ORIGIN spread.test.
    @ MX 10 a.spread.test.
      MX 10 b.spread.test.
      MX 20 c.spread.test.
      MX 5 first.spread.test.
  `,
  );
  const firstOfEqual = { a: 0, b: 0 };
  const rounds = 200;
  for (let i = 0; i < rounds; i++) {
    const route = await routeFor('spread.test', dns.resolver);
    assert.equal(route.kind, 'hosts');
    if (route.kind !== 'hosts') return;
    const names = route.hosts.map((host) => host.name);
    assert.equal(names[0], 'first.spread.test');
    assert.equal(names[3], 'c.spread.test');
    firstOfEqual[names[1] === 'a.spread.test' ? 'a' : 'b']++;
  }
  // Each order has probability 1/2; fewer than 50 of 200 happens with probability below 1e-12.
  assert.ok(firstOfEqual.a >= 50 && firstOfEqual.b >= 50, JSON.stringify(firstOfEqual));
});

test('orderExchanges uses the random source it is given', () => {
  const hosts = [
    { name: 'x', preference: 1 },
    { name: 'y', preference: 1 },
    { name: 'z', preference: 0 },
  ];
  assert.deepEqual(
    orderExchanges(hosts, () => 0.99).map((h) => h.name),
    ['z', 'x', 'y'],
  );
  assert.deepEqual(
    orderExchanges(hosts, () => 0).map((h) => h.name),
    ['z', 'y', 'x'],
  );
});

test('DATA encoding: dot-stuffing, CRLF before the final dot', () => {
  const encode = (text: string): string => Buffer.concat(encodeDataBody(Buffer.from(text))).toString();
  assert.equal(encode('a\r\n.b\r\n..c\r\n'), 'a\r\n..b\r\n...c\r\n.\r\n');
  assert.equal(encode('.first\r\nlast'), '..first\r\nlast\r\n.\r\n');
  assert.equal(encode(''), '.\r\n');
});

test('reply parsing: multi-line, enhanced code from the last line', () => {
  assert.deepEqual(parseReplyLines(['250-mx.test', '250-SIZE 10', '250 DSN']), {
    code: 250,
    text: 'mx.test\nSIZE 10\nDSN',
  });
  assert.deepEqual(parseReplyLines(['550-5.1.1 No', '550 5.1.1 such user']), {
    code: 550,
    enhanced: '5.1.1',
    text: 'No\nsuch user',
  });
});

test('MAIL FROM says BODY=8BITMIME only for a body with 8-bit bytes, and only to a peer that offers it', () => {
  const offers = new Map([['8BITMIME', '']]);
  const ascii = Buffer.from('Subject: plain\r\n\r\nHello\r\n');
  const eightBit = Buffer.from('Subject: caf\u00e9\r\n\r\nCaf\u00e9\r\n');
  assert.equal(mailCommand('a@x.test', ascii, ['b@y.test'], {}, offers), 'MAIL FROM:<a@x.test>');
  assert.equal(
    mailCommand('a@x.test', eightBit, ['b@y.test'], {}, offers),
    'MAIL FROM:<a@x.test> BODY=8BITMIME',
  );
  assert.equal(mailCommand('a@x.test', eightBit, ['b@y.test'], {}, new Map()), 'MAIL FROM:<a@x.test>');
});

test('xtext encoding round-trips through our server-side decoder', () => {
  for (const text of ['plain', 'a+b=c', 'with space', 'ünï', 'x\u0001y']) {
    const encoded = encodeXtext(text);
    assert.match(encoded, /^[\x21-\x7e]*$/);
    assert.equal(Buffer.from(decodeXtext(encoded) ?? '', 'latin1').toString('utf8'), text);
  }
});

test('[delivery.smtp] config: units, defaults, policies and smarthost become target options', async (t) => {
  const cfg = smtpDeliveryConfigSchema.parse({
    connect_timeout: '10s',
    idle_timeout: '2s',
    rate_per_destination: 30,
    policy: [{ domain: 'bank.test', tls: 'required', rate: 5 }],
    smarthost: { host: 'relay.test', port: 465, tls: 'implicit', username: 'u', password: 'p' },
  });
  const dns = await startTestDns(t, '$ORIGIN x.test.\n@ A 127.0.0.1\n');
  const options = smtpTargetOptionsFromConfig(cfg, { resolver: dns.resolver, hostname: 'mx.sender.test' });
  assert.equal(options.heloName, 'mx.sender.test');
  assert.equal(options.port, 25);
  assert.equal(options.connectTimeoutMs, 10_000);
  assert.equal(options.idleTimeoutMs, 2000);
  assert.equal(options.commandTimeoutMs, 300_000);
  assert.equal(options.ratePerMinute, 30);
  assert.equal(options.tls, 'may');
  assert.deepEqual(options.policies, [{ domain: 'bank.test', tls: 'required', ratePerMinute: 5 }]);
  assert.deepEqual(options.smarthost, {
    host: 'relay.test',
    port: 465,
    tls: 'implicit',
    username: 'u',
    password: 'p',
    verify: false,
  });
  assert.equal(smtpDeliveryConfigSchema.safeParse({ tls: 'sometimes' }).success, false);
  assert.equal(
    smtpDeliveryConfigSchema.safeParse({ smarthost: { host: 'h', username: 'u' } }).success,
    false,
  );
  assert.equal(smtpDeliveryConfigSchema.safeParse({ connect_timeout: 'soon' }).success, false);
});

/**
 * A scripted server that offers STARTTLS and hangs up on the TLS handshake, then takes mail in
 * plaintext on a new connection: the sender must fall back rather than give up.
 */
async function brokenTlsServer(t: TestContext): Promise<{ port: number; sessions: string[][] }> {
  const sessions: string[][] = [];
  const server = createServer((socket: Socket) => {
    const commands: string[] = [];
    sessions.push(commands);
    let buffer = '';
    let inData = false;
    let handshaking = false;
    socket.write('220 broken.test ESMTP\r\n');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      if (handshaking) {
        socket.destroy();
        return;
      }
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            socket.write('250 2.0.0 taken\r\n');
          }
          continue;
        }
        commands.push(line.split(' ')[0] ?? '');
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-broken.test\r\n250 STARTTLS\r\n');
        else if (verb === 'STAR') {
          handshaking = true;
          socket.write('220 go ahead\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return { port: await listenForTest(t, server), sessions };
}

test('a failed opportunistic TLS handshake falls back to plaintext; tls=required does not', async (t) => {
  const { port, sessions } = await brokenTlsServer(t);
  const dns = await startTestDns(t, '$ORIGIN broken.test.\n@ A 127.0.0.1\n');
  const common = { resolver: dns.resolver, port, heloName: 'sender.test', commandTimeoutMs: 3000 };
  const opportunistic = createSmtpTarget(common);
  t.after(() => opportunistic.close());
  assert.deepEqual(summary(await deliver(opportunistic, [rcpt('bob@broken.test')])), [
    '0 delivered 250 2.0.0',
  ]);
  assert.deepEqual(sessions[0], ['EHLO', 'STARTTLS']);
  assert.deepEqual(sessions[1]?.slice(0, 4), ['EHLO', 'MAIL', 'RCPT', 'DATA']);

  const strict = createSmtpTarget({ ...common, tls: 'required' });
  t.after(() => strict.close());
  const [result] = await deliver(strict, [rcpt('bob@broken.test')]);
  assert.equal(result?.status, 'deferred');
  assert.equal(result?.reply.enhanced, '4.7.10');
  assert.equal(sessions.length, 3, 'no plaintext retry under tls=required');
  assert.deepEqual(sessions[2], ['EHLO', 'STARTTLS']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../../../src/core/errors.js';
import { plainAddress } from '../../../src/protocol/smtp/session.js';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { deferred, eventually, startServer } from './fixture.js';

test('a client greets, sends one message and quits', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  assert.equal(client.greeting.code, 220);
  assert.equal(client.greeting.text, 'mx.outpost.test ESMTP outpost test');

  const ehlo = await client.send('EHLO client.example');
  assert.equal(ehlo.code, 250);
  assert.deepEqual(ehlo.lines, [
    'mx.outpost.test',
    'PIPELINING',
    '8BITMIME',
    'SMTPUTF8',
    'SIZE 10000',
    'ENHANCEDSTATUSCODES',
    'DSN',
  ]);
  const final = await client.sendMail({
    from: 'alice@client.example',
    to: ['bob@outpost.test', 'carol@outpost.test'],
    body: 'Subject: hello\n\nHi Bob.\n',
    ehlo: false,
  });
  assert.equal(final.code, 250);
  assert.equal(final.enhanced, '2.0.0');
  assert.equal(final.text, 'Queued as test-1');
  const quit = await client.send('QUIT');
  assert.equal(quit.code, 221);
  await client.closed;

  assert.equal(seen.messages.length, 1);
  const [delivered] = seen.messages;
  assert.equal(delivered?.transaction.from, 'alice@client.example');
  assert.deepEqual(
    delivered?.transaction.recipients.map((r) => r.address),
    ['bob@outpost.test', 'carol@outpost.test'],
  );
  assert.equal(delivered?.message.toString(), 'Subject: hello\r\n\r\nHi Bob.\r\n');
  assert.equal(delivered?.session.helo, 'client.example');
  assert.equal(delivered?.session.esmtp, true);
  assert.equal(delivered?.session.remoteAddress, '127.0.0.1');
  await eventually(() => seen.closed.length === 1, 'close handler called');
});

test('pipelined commands in one write get their replies in order', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  client.sendRaw(
    'EHLO pipe.example\r\nMAIL FROM:<a@pipe.example>\r\nRCPT TO:<b@outpost.test>\r\n' +
      'RCPT TO:<c@outpost.test>\r\nDATA\r\n',
  );
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await client.readReply()).code);
  assert.deepEqual(codes, [250, 250, 250, 250, 354]);
  client.sendRaw('one line\r\n.\r\nNOOP\r\nQUIT\r\n');
  assert.equal((await client.readReply()).text, 'Queued as test-1');
  assert.equal((await client.readReply()).text, 'OK');
  assert.equal((await client.readReply()).code, 221);
  assert.equal(seen.messages[0]?.message.toString(), 'one line\r\n');
});

test('message content may arrive in the same packet as DATA, and commands after it wait for the handler', async (t) => {
  const release = deferred();
  const order: string[] = [];
  const { port } = await startServer(
    t,
    {},
    {
      async data() {
        order.push('data handler started');
        await release.promise;
        order.push('data handler finished');
        return { code: 250, enhanced: '2.0.0', text: 'stored' };
      },
    },
  );
  const client = await smtpConnect(port);
  await client.send('EHLO pipe.example');
  client.sendRaw('MAIL FROM:<a@pipe.example>\r\nRCPT TO:<b@outpost.test>\r\nDATA\r\nbody\r\n.\r\nRSET\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.equal((await client.readReply()).code, 250);
  assert.equal((await client.readReply()).code, 354);
  // The RSET is already buffered; it must not be answered before the message is.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['data handler started']);
  release.resolve();
  assert.equal((await client.readReply()).text, 'stored');
  assert.equal((await client.readReply()).text, 'OK');
  assert.deepEqual(order, ['data handler started', 'data handler finished']);
});

test('commands out of sequence get 503 5.5.1', async (t) => {
  const { port } = await startServer(t);
  const client = await smtpConnect(port);
  const mailFirst = await client.send('MAIL FROM:<a@example.org>');
  assert.equal(mailFirst.code, 503);
  assert.equal(mailFirst.enhanced, '5.5.1');
  await client.send('EHLO client.example');
  assert.equal((await client.send('RCPT TO:<b@outpost.test>')).code, 503);
  assert.equal((await client.send('DATA')).code, 503);
  assert.equal((await client.send('MAIL FROM:<a@example.org>')).code, 250);
  const noRecipients = await client.send('DATA');
  assert.equal(noRecipients.code, 503);
  assert.equal(noRecipients.enhanced, '5.5.1');
  const nested = await client.send('MAIL FROM:<other@example.org>');
  assert.equal(nested.code, 503);
  assert.equal(nested.enhanced, '5.5.1');
  assert.equal((await client.send('RSET')).code, 250);
  assert.equal((await client.send('RCPT TO:<b@outpost.test>')).code, 503);
});

test('RSET and a second EHLO end the transaction; HELO turns ESMTP parameters off', async (t) => {
  const { port } = await startServer(t);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  await client.send('MAIL FROM:<a@example.org>');
  await client.send('EHLO client.example');
  assert.equal((await client.send('RCPT TO:<b@outpost.test>')).code, 503);
  const helo = await client.send('HELO old.example');
  assert.deepEqual(helo.lines, ['mx.outpost.test']);
  assert.equal((await client.send('MAIL FROM:<a@example.org> SIZE=10')).code, 555);
  assert.equal((await client.send('MAIL FROM:<a@example.org>')).code, 250);
});

test('NOOP, VRFY, HELP, unknown and unoffered verbs', async (t) => {
  const { port } = await startServer(t);
  const client = await smtpConnect(port);
  assert.equal((await client.send('noop')).code, 250);
  const vrfy = await client.send('VRFY bob');
  assert.equal(vrfy.code, 252);
  assert.equal(vrfy.enhanced, '2.5.0');
  const help = await client.send('HELP');
  assert.equal(help.code, 214);
  assert.match(help.text, /EHLO/);
  const unknown = await client.send('FROB nicate');
  assert.equal(unknown.code, 500);
  assert.equal(unknown.enhanced, '5.5.2');
  const bdat = await client.send('BDAT 10 LAST');
  assert.equal(bdat.code, 502);
  assert.equal(bdat.enhanced, '5.5.1');
  assert.equal((await client.send('STARTTLS')).code, 502);
  assert.equal((await client.send('AUTH PLAIN')).code, 502);
  assert.equal((await client.send('EHLO')).code, 501);
  assert.equal((await client.send('EHLO two words')).code, 501);
  assert.equal((await client.send('__proto__')).code, 500);
});

test('an extension verb is advertised in EHLO and reaches its handler', async (t) => {
  const calls: string[] = [];
  const { port } = await startServer(
    t,
    {},
    {
      verbs: {
        XGEN: async (session, args) => {
          calls.push(`${session.helo} ${args}`);
          return { code: 250, enhanced: '2.7.0', text: 'Generation accepted' };
        },
      },
    },
  );
  const client = await smtpConnect(port);
  const ehlo = await client.send('EHLO gen.example');
  assert.ok(ehlo.lines.includes('XGEN'));
  const reply = await client.send('xgen gen.example 3 AAAA');
  assert.equal(reply.code, 250);
  assert.equal(reply.enhanced, '2.7.0');
  assert.deepEqual(calls, ['gen.example gen.example 3 AAAA']);
});

test('a handler that throws gets 451 4.3.0 and the session goes on; an OutpostError gets its catalogue reply', async (t) => {
  const errors: object[] = [];
  const warnings: object[] = [];
  const { port, seen } = await startServer(
    t,
    { logger: { warn: (details) => warnings.push(details), error: (details) => errors.push(details) } },
    {
      async rcptTo(_session, _tx, recipient) {
        if (recipient.address.startsWith('crash')) throw new Error('database went away');
        if (recipient.address.startsWith('relay')) throw new OutpostError('RELAY_DENIED', 'not ours');
        return undefined;
      },
    },
  );
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  await client.send('MAIL FROM:<a@example.org>');
  const crashed = await client.send('RCPT TO:<crash@outpost.test>');
  assert.equal(crashed.code, 451);
  assert.equal(crashed.enhanced, '4.3.0');
  const relay = await client.send('RCPT TO:<relay@elsewhere.example>');
  assert.equal(relay.code, 554);
  assert.equal(relay.enhanced, '5.7.1');
  assert.equal(relay.text, 'Relay access denied');
  assert.equal((await client.send('RCPT TO:<bob@outpost.test>')).code, 250);
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw('hi\r\n.\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.deepEqual(
    seen.messages[0]?.transaction.recipients.map((r) => r.address),
    ['bob@outpost.test'],
  );
  assert.equal(errors.length, 1);
  assert.match(JSON.stringify(errors[0]), /database went away/);
  assert.equal(warnings.length, 1);
  assert.match(JSON.stringify(warnings[0]), /RELAY_DENIED.*not ours/);
});

test('a 554 greeting leaves only QUIT and NOOP; a 421 greeting closes', async (t) => {
  const { port } = await startServer(
    t,
    {},
    {
      async connect(session) {
        return session.remoteAddress === '127.0.0.2'
          ? { code: 421, enhanced: '4.7.0', text: 'Come back later' }
          : { code: 554, enhanced: '5.7.1', text: 'Not on the trust list' };
      },
    },
  );
  const refused = await smtpConnect(port);
  assert.equal(refused.greeting.code, 554);
  const ehlo = await refused.send('EHLO client.example');
  assert.equal(ehlo.code, 503);
  assert.equal(ehlo.enhanced, '5.5.1');
  assert.equal((await refused.send('MAIL FROM:<a@example.org>')).code, 503);
  assert.equal((await refused.send('NOOP')).code, 250);
  assert.equal((await refused.send('QUIT')).code, 221);
  await refused.closed;

  const later = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.2' });
  assert.equal(later.greeting.code, 421);
  await later.closed;
});

test('a positive connect handler keeps the normal greeting and may store state for later stages', async (t) => {
  const { port, seen } = await startServer(
    t,
    {},
    {
      async connect(session) {
        session.state.listed = true;
        return undefined;
      },
    },
  );
  const client = await smtpConnect(port);
  assert.equal(client.greeting.code, 220);
  await client.sendMail({ from: 'a@example.org', to: ['b@outpost.test'], body: 'x' });
  assert.equal(seen.messages[0]?.session.state.listed, true);
});

test('a command that is not valid UTF-8 is refused with 500 5.5.2', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  client.sendRaw(
    Buffer.concat([
      Buffer.from('MAIL FROM:<j'),
      Buffer.from([0xf6]),
      Buffer.from('rg@client.example> SMTPUTF8\r\n'),
    ]),
  );
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '500 5.5.2');
  assert.equal(seen.senders.length, 0);
  assert.equal((await client.send('MAIL FROM:<jörg@client.example> SMTPUTF8')).code, 250);
});

test('IPv4 clients of a dual-stack listener are reported as plain IPv4', () => {
  assert.equal(plainAddress('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(plainAddress('2001:db8::7'), '2001:db8::7');
  assert.equal(plainAddress('127.0.0.1'), '127.0.0.1');
});

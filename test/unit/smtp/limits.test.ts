import assert from 'node:assert/strict';
import { test } from 'node:test';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { eventually, startServer } from './fixture.js';

test('recipients over maxRecipients get 452 4.5.3 and the message goes to the accepted ones', async (t) => {
  const { port, seen } = await startServer(t, { maxRecipients: 2 });
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  await client.send('MAIL FROM:<a@client.example>');
  assert.equal((await client.send('RCPT TO:<one@outpost.test>')).code, 250);
  assert.equal((await client.send('RCPT TO:<two@outpost.test>')).code, 250);
  const third = await client.send('RCPT TO:<three@outpost.test>');
  assert.equal(`${third.code} ${third.enhanced}`, '452 4.5.3');
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw('x\r\n.\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.deepEqual(
    seen.messages[0]?.transaction.recipients.map((r) => r.address),
    ['one@outpost.test', 'two@outpost.test'],
  );
});

test('a command line over maxCommandLine gets 500 5.5.6 and the session stays in step', async (t) => {
  const { port } = await startServer(t, { maxCommandLine: 512 });
  const client = await smtpConnect(port);
  const long = await client.send(`NOOP ${'x'.repeat(2000)}`);
  assert.equal(`${long.code} ${long.enhanced}`, '500 5.5.6');
  // The same, arriving in pieces, followed by a normal command in the same write as its end.
  client.sendRaw(`MAIL FROM:<${'y'.repeat(300)}`);
  client.sendRaw(`${'y'.repeat(300)}`);
  client.sendRaw(`${'y'.repeat(300)}@client.example>\r\nNOOP\r\n`);
  assert.equal((await client.readReply()).code, 500);
  assert.equal((await client.readReply()).text, 'OK');
  // A line just within the limit (CRLF included) is fine.
  assert.equal((await client.send(`NOOP ${'z'.repeat(505)}`)).code, 250);
  assert.equal((await client.send(`NOOP ${'z'.repeat(506)}`)).code, 500);
});

test('after maxErrors protocol errors the session ends with 421 4.7.0', async (t) => {
  const { port } = await startServer(t, { maxErrors: 3 });
  const client = await smtpConnect(port);
  assert.equal((await client.send('BOGUS')).code, 500);
  assert.equal((await client.send('RCPT TO:<a@outpost.test>')).code, 503);
  const last = await client.send('BOGUS');
  assert.equal(`${last.code} ${last.enhanced}`, '421 4.7.0');
  await client.closed;
});

test('an idle client is dropped with 421 4.4.2 after commandTimeoutMs', async (t) => {
  const { port } = await startServer(t, { commandTimeoutMs: 50 });
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '421 4.4.2');
  await client.closed;
});

test('a half-sent command does not keep the session alive past commandTimeoutMs', async (t) => {
  const { port } = await startServer(t, { commandTimeoutMs: 50 });
  const client = await smtpConnect(port);
  client.sendRaw('NO');
  const reply = await client.readReply();
  assert.equal(reply.code, 421);
  await client.closed;
});

test('a client that stalls in DATA is dropped with 421 4.4.2 after dataTimeoutMs', async (t) => {
  const { port, seen } = await startServer(t, { dataTimeoutMs: 50 });
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  await client.send('MAIL FROM:<a@client.example>');
  await client.send('RCPT TO:<b@outpost.test>');
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw('Subject: never finished\r\n');
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '421 4.4.2');
  await client.closed;
  assert.equal(seen.messages.length, 0);
});

test('connections over maxConnections are greeted with 421 4.7.0 and closed', async (t) => {
  const { port, server } = await startServer(t, { maxConnections: 2 });
  const first = await smtpConnect(port);
  const second = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.2' });
  assert.equal(server.connections(), 2);
  const third = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.3' });
  assert.equal(`${third.greeting.code} ${third.greeting.enhanced}`, '421 4.7.0');
  await third.closed;
  assert.equal(server.connections(), 2);
  await first.send('QUIT');
  await first.closed;
  await eventually(() => server.connections() === 1, 'first session released');
  const fourth = await smtpConnect(port);
  assert.equal(fourth.greeting.code, 220);
  await second.close();
  await fourth.close();
});

test('connections over maxConnectionsPerIp are refused for that IP only', async (t) => {
  const { port } = await startServer(t, { maxConnectionsPerIp: 1 });
  const first = await smtpConnect(port);
  const again = await smtpConnect(port);
  assert.equal(`${again.greeting.code} ${again.greeting.enhanced}`, '421 4.7.0');
  await again.closed;
  const other = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.2' });
  assert.equal(other.greeting.code, 220);
  await first.close();
  await other.close();
});

test('a client that resets the connection mid-command does not disturb the server', async (t) => {
  const { port, server } = await startServer(t);
  const client = await smtpConnect(port);
  client.sendRaw('MAIL FROM:<half');
  await client.close();
  await eventually(() => server.connections() === 0, 'session released');
  const next = await smtpConnect(port);
  assert.equal((await next.send('NOOP')).code, 250);
});

test('random garbage does not take the server down', async (t) => {
  const { port, server } = await startServer(t, { maxErrors: 1_000_000 });
  let state = 7;
  const garbage = Buffer.alloc(200_000);
  for (let i = 0; i < garbage.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    garbage[i] = state % 256;
  }
  for (const split of [1, 7]) {
    const client = await smtpConnect(port);
    for (let at = 0; at < garbage.length; at += garbage.length / split) {
      client.sendRaw(garbage.subarray(at, at + garbage.length / split));
    }
    client.sendRaw('\r\nQUIT\r\n');
    await client.closed;
  }
  await eventually(() => server.connections() === 0, 'garbage sessions released');
  const fresh = await smtpConnect(port);
  const reply = await fresh.sendMail({
    from: 'a@client.example',
    to: ['b@outpost.test'],
    body: 'still here',
  });
  assert.equal(reply.code, 250);
});

test('a flood of pipelined commands is answered completely and in order', async (t) => {
  const { port } = await startServer(t);
  const client = await smtpConnect(port);
  const count = 5000;
  client.sendRaw('NOOP\r\n'.repeat(count));
  client.sendRaw('QUIT\r\n');
  for (let i = 0; i < count; i++) assert.equal((await client.readReply()).code, 250);
  assert.equal((await client.readReply()).code, 221);
});

test('a message with more than maxHops Received fields is refused as a loop (554 5.4.6); at the limit it passes', async (t) => {
  const { port, seen } = await startServer(t, { maxHops: 3 });
  const client = await smtpConnect(port);
  const received = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? `Received: from hop${i}\r\n\tby x` : `RECEIVED : from hop${i}`,
    );
  const send = async (headers: string[]) => {
    await client.send('MAIL FROM:<a@client.example>');
    await client.send('RCPT TO:<one@outpost.test>');
    assert.equal((await client.send('DATA')).code, 354);
    client.sendRaw(
      `${[...headers, 'Subject: hops', '', 'Received: in the body does not count'].join('\r\n')}\r\n.\r\n`,
    );
    return client.readReply();
  };
  await client.send('EHLO client.example');
  const looping = await send(received(4));
  assert.equal(`${looping.code} ${looping.enhanced}`, '554 5.4.6');
  assert.equal(seen.messages.length, 0, 'the handler never saw it');
  // Names that only begin like Received are other fields.
  assert.equal((await send([...received(3), 'Received-SPF: pass', 'X-Received: by y'])).code, 250);
  assert.equal(seen.messages.length, 1);
});

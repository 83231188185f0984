import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SmtpTestClient, smtpConnect } from '../../helpers/smtp-client.js';
import { startServer } from './fixture.js';

/** EHLO, MAIL, RCPT, DATA; returns once the 354 is in. */
async function openData(client: SmtpTestClient): Promise<void> {
  assert.equal((await client.send('EHLO client.example')).code, 250);
  assert.equal((await client.send('MAIL FROM:<alice@client.example>')).code, 250);
  assert.equal((await client.send('RCPT TO:<bob@outpost.test>')).code, 250);
  assert.equal((await client.send('DATA')).code, 354);
}

const LOOK_ALIKES = ['\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r\n.\r', '\r.\r\n'];

for (const fake of LOOK_ALIKES) {
  test(`SMTP smuggling with ${JSON.stringify(fake)}: the message is refused and the smuggled commands never run`, async (t) => {
    const { port, seen } = await startServer(t);
    const client = await smtpConnect(port);
    await openData(client);
    client.sendRaw(
      `Subject: hi\r\n\r\nhello${fake}MAIL FROM:<mallory@evil.example>\r\nRCPT TO:<victim@outpost.test>\r\n` +
        'DATA\r\nFrom: ceo@outpost.test\r\n\r\nsmuggled\r\n.\r\n',
    );
    const reply = await client.readReply();
    assert.equal(reply.code, 550);
    assert.equal(reply.enhanced, '5.6.0');
    // The next reply answers our NOOP: nothing else was executed in between.
    assert.equal((await client.send('NOOP')).text, 'OK');
    assert.equal(seen.messages.length, 0);
    assert.deepEqual(
      seen.senders.map((s) => s.from),
      ['alice@client.example'],
    );
  });
}

test('a message with Unix line endings is refused with 550 5.6.0', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  await openData(client);
  client.sendRaw('Subject: unix\n\nbody\n\r\n.\r\n');
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '550 5.6.0');
  assert.match(reply.text, /Bare CR or LF/);
  assert.equal(seen.messages.length, 0);
});

test('a NUL in the message is refused with 550 5.6.0', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  await openData(client);
  client.sendRaw(Buffer.from('Subject: nul\r\n\r\na\u0000b\r\n.\r\n', 'latin1'));
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '550 5.6.0');
  assert.match(reply.text, /NUL/);
  assert.equal(seen.messages.length, 0);
});

test('dot-stuffed lines reach the handler unstuffed', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  const body = 'Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle.dot\r\n...\r\n';
  const reply = await client.sendMail({ from: 'a@client.example', to: ['b@outpost.test'], body });
  assert.equal(reply.code, 250);
  assert.equal(seen.messages[0]?.message.toString(), body);
});

test('an empty message is accepted as empty', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  await openData(client);
  client.sendRaw('.\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.equal(seen.messages[0]?.message.length, 0);
});

test('a message over maxMessageSize is read to its end, refused with 552 5.3.4, and the session goes on', async (t) => {
  const { port, seen } = await startServer(t, { maxMessageSize: 1000 });
  const client = await smtpConnect(port);
  await openData(client);
  for (let i = 0; i < 50; i++) client.sendRaw(`${'x'.repeat(98)}\r\n`);
  client.sendRaw('.\r\n');
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '552 5.3.4');
  assert.equal(seen.messages.length, 0);
  const next = await client.sendMail({
    from: 'a@client.example',
    to: ['b@outpost.test'],
    body: 'small',
    ehlo: false,
  });
  assert.equal(next.code, 250);
});

test('a text line over maxDataLine is refused with 500 5.5.6 (RFC 5321 4.5.3.1.9)', async (t) => {
  const { port, seen } = await startServer(t, { maxDataLine: 100 });
  const client = await smtpConnect(port);
  await openData(client);
  client.sendRaw(`short\r\n${'y'.repeat(99)}\r\n.\r\n`);
  const reply = await client.readReply();
  assert.equal(`${reply.code} ${reply.enhanced}`, '500 5.5.6');
  assert.equal(seen.messages.length, 0);
});

test('a 1 MB message sent in many writes arrives intact', async (t) => {
  const { port, seen } = await startServer(t, { maxMessageSize: 2_000_000 });
  const client = await smtpConnect(port);
  await openData(client);
  const line = `${'0123456789'.repeat(7)}.\r\n`;
  const lines = Math.ceil(1_000_000 / line.length);
  for (let i = 0; i < lines; i += 100) client.sendRaw(line.repeat(Math.min(100, lines - i)));
  client.sendRaw('.\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.equal(seen.messages[0]?.message.length, line.length * lines);
  assert.ok(seen.messages[0]?.message.equals(Buffer.from(line.repeat(lines))));
});

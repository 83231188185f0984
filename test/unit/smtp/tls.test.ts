import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { eventually, startServer } from './fixture.js';
import { makeTlsMaterial } from './tls-material.js';

const material = makeTlsMaterial();
const TLS = { tls: { key: material.serverKey, cert: material.serverCert } };

test('STARTTLS upgrades the session and starts it over', async (t) => {
  const { port, seen } = await startServer(t, TLS);
  const client = await smtpConnect(port);
  const before = await client.send('EHLO client.example');
  assert.ok(before.lines.includes('STARTTLS'));
  assert.equal((await client.send('MAIL FROM:<a@client.example>')).code, 250);
  const ready = await client.startTls();
  assert.equal(`${ready.code} ${ready.enhanced}`, '220 2.0.0');
  assert.equal(client.secure, true);
  // RFC 3207 4.2: EHLO and the transaction are forgotten.
  assert.equal((await client.send('RCPT TO:<b@outpost.test>')).code, 503);
  assert.equal((await client.send('MAIL FROM:<a@client.example>')).code, 503);
  const after = await client.send('EHLO client.example');
  assert.equal(after.lines.includes('STARTTLS'), false);
  const again = await client.send('STARTTLS');
  assert.equal(again.code, 503);
  const reply = await client.sendMail({
    from: 'a@client.example',
    to: ['b@outpost.test'],
    body: 'secret',
    ehlo: false,
  });
  assert.equal(reply.code, 250);
  const session = seen.messages[0]?.session;
  assert.equal(session?.secure, true);
  assert.match(session?.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  assert.ok(session?.tls?.cipher);
  assert.equal(session?.tls?.peerCertificate, undefined);
});

test('plaintext sent after STARTTLS is discarded, not run inside TLS (CVE-2011-0411)', async (t) => {
  const { port, seen } = await startServer(t, TLS);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const ready = await client.startTls({ inject: 'MAIL FROM:<injected@evil.example>\r\nNOOP\r\n' });
  assert.equal(ready.code, 220);
  // The first reply over TLS must be the one to our EHLO, not to injected commands.
  const ehlo = await client.send('EHLO client.example');
  assert.equal(ehlo.lines[0], 'mx.outpost.test');
  assert.equal((await client.send('RCPT TO:<b@outpost.test>')).code, 503);
  assert.equal(seen.senders.length, 0);
});

test('STARTTLS with arguments is refused', async (t) => {
  const { port } = await startServer(t, TLS);
  const client = await smtpConnect(port);
  assert.equal((await client.send('STARTTLS now')).code, 501);
});

test('a failed handshake ends only that session', async (t) => {
  const { port, server } = await startServer(t, TLS);
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('data', resolve));
  socket.write('STARTTLS\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  socket.write('this is not a TLS ClientHello\r\n'.repeat(10));
  await new Promise((resolve) => socket.once('close', resolve));
  await eventually(() => server.connections() === 0, 'session released');
  const next = await smtpConnect(port);
  assert.equal(next.greeting.code, 220);
});

test('implicit TLS speaks TLS from the first byte and offers no STARTTLS', async (t) => {
  const { port, seen } = await startServer(t, { ...TLS, implicitTls: true });
  const client = await smtpConnect(port, '127.0.0.1', { tls: true });
  assert.equal(client.greeting.code, 220);
  const ehlo = await client.send('EHLO client.example');
  assert.equal(ehlo.lines.includes('STARTTLS'), false);
  await client.sendMail({ from: 'a@client.example', to: ['b@outpost.test'], body: 'x', ehlo: false });
  assert.equal(seen.messages[0]?.session.secure, true);
});

test('implicit TLS: a refused connection gets its 421 over TLS', async (t) => {
  const { port } = await startServer(t, { ...TLS, implicitTls: true, maxConnectionsPerIp: 1 });
  const first = await smtpConnect(port, '127.0.0.1', { tls: true });
  const second = await smtpConnect(port, '127.0.0.1', { tls: true });
  assert.equal(second.greeting.code, 421);
  await first.close();
});

test('a requested client certificate is verified against the CA and shown to the handlers', async (t) => {
  const { port, seen } = await startServer(t, {
    tls: { key: material.serverKey, cert: material.serverCert, ca: material.ca, requestCert: true },
  });
  const withCert = await smtpConnect(port);
  await withCert.send('EHLO client.example');
  await withCert.startTls({ key: material.clientKey, cert: material.clientCert });
  await withCert.sendMail({ from: 'a@client.example', to: ['b@outpost.test'], body: 'x' });
  const tls = seen.messages[0]?.session.tls;
  assert.equal(tls?.authorized, true);
  assert.equal(tls?.peerCertificate?.subject.CN, 'client.example');

  const without = await smtpConnect(port);
  await without.send('EHLO client.example');
  await without.startTls();
  await without.sendMail({ from: 'a@client.example', to: ['b@outpost.test'], body: 'x' });
  const anonymous = seen.messages[1]?.session.tls;
  assert.equal(anonymous?.authorized, false);
  assert.equal(anonymous?.peerCertificate, undefined);
});

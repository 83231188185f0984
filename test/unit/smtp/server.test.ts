import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSmtpServer } from '../../../src/protocol/smtp/server.js';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { deferred, eventually, startServer, TEST_OPTIONS } from './fixture.js';

test('graceful close: DATA in flight completes, new connections get 421 4.3.2, the session gets 421 next', async (t) => {
  const handlerStarted = deferred();
  const release = deferred();
  const { port, server, seen } = await startServer(
    t,
    {},
    {
      async data(session, transaction, message) {
        seen.messages.push({ transaction, message, session });
        handlerStarted.resolve();
        await release.promise;
        return { code: 250, enhanced: '2.0.0', text: 'stored before shutdown' };
      },
    },
  );
  const busy = await smtpConnect(port);
  const idle = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.2' });
  await idle.send('EHLO idle.example');
  await busy.send('EHLO busy.example');
  await busy.send('MAIL FROM:<a@busy.example>');
  await busy.send('RCPT TO:<b@outpost.test>');
  await busy.send('DATA');
  busy.sendRaw('in flight\r\n.\r\n');
  await handlerStarted.promise;

  const closed = server.close({ timeoutMs: 10_000 });
  const idleReply = await idle.readReply();
  assert.equal(`${idleReply.code} ${idleReply.enhanced}`, '421 4.3.2');
  await idle.closed;

  const late = await smtpConnect(port, '127.0.0.1', { localAddress: '127.0.0.3' });
  assert.equal(`${late.greeting.code} ${late.greeting.enhanced}`, '421 4.3.2');
  await late.closed;

  release.resolve();
  assert.equal((await busy.readReply()).text, 'stored before shutdown');
  const next = await busy.send('MAIL FROM:<a@busy.example>');
  assert.equal(`${next.code} ${next.enhanced}`, '421 4.3.2');
  await busy.closed;
  await closed;
  assert.equal(server.connections(), 0);
  assert.equal(seen.messages.length, 1);
});

test('close destroys sessions still open after timeoutMs', async (t) => {
  const never = deferred();
  const { port, server } = await startServer(
    t,
    {},
    {
      async data() {
        await never.promise;
        return { code: 250, text: 'never' };
      },
    },
  );
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  await client.send('MAIL FROM:<a@client.example>');
  await client.send('RCPT TO:<b@outpost.test>');
  await client.send('DATA');
  client.sendRaw('stuck\r\n.\r\n');
  await eventually(() => server.connections() === 1, 'session open');
  await server.close({ timeoutMs: 20 });
  await client.closed;
  assert.equal(server.connections(), 0);
});

test('close resolves at once with no sessions, and on a server that never listened', async () => {
  const handlers = {
    mailFrom: async () => undefined,
    rcptTo: async () => undefined,
    data: async () => ({ code: 250, text: 'OK' }),
  };
  const listening = createSmtpServer(TEST_OPTIONS, handlers);
  const { port } = await listening.listen(0, '127.0.0.1');
  assert.ok(port > 0);
  await listening.close();
  await createSmtpServer(TEST_OPTIONS, handlers).close();
});

test('listen rejects when the port is taken', async (t) => {
  const { port } = await startServer(t);
  const second = createSmtpServer(TEST_OPTIONS, {
    mailFrom: async () => undefined,
    rcptTo: async () => undefined,
    data: async () => ({ code: 250, text: 'OK' }),
  });
  await assert.rejects(second.listen(port, '127.0.0.1'), /EADDRINUSE/);
  await second.close();
});

test('configuration mistakes are refused when the server is created', () => {
  const handlers = {
    mailFrom: async () => undefined,
    rcptTo: async () => undefined,
    data: async () => ({ code: 250, text: 'OK' }),
  };
  assert.throws(() => createSmtpServer({ ...TEST_OPTIONS, implicitTls: true }, handlers), /implicitTls/);
  assert.throws(
    () =>
      createSmtpServer(TEST_OPTIONS, {
        ...handlers,
        verbs: { 'X GEN': async () => ({ code: 250, text: '' }) },
      }),
    /not an SMTP keyword/,
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmtpHandlers } from '../../../src/protocol/smtp/types.js';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { startServer } from './fixture.js';
import { makeTlsMaterial } from './tls-material.js';

const material = makeTlsMaterial();
const TLS = { key: material.serverKey, cert: material.serverCert };
const checker: Partial<SmtpHandlers> = {
  async authenticate(_session, username, password) {
    return username === 'alice' && password === 'correct horse';
  },
};

function plain(authzid: string, username: string, password: string): string {
  return Buffer.from(`${authzid}\0${username}\0${password}`).toString('base64');
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

test('AUTH is neither offered nor accepted before TLS unless allowInsecureAuth', async (t) => {
  const { port } = await startServer(t, { tls: TLS, auth: { allowInsecureAuth: false } }, checker);
  const client = await smtpConnect(port);
  const ehlo = await client.send('EHLO client.example');
  assert.equal(
    ehlo.lines.some((line) => line.startsWith('AUTH')),
    false,
  );
  const refused = await client.send(`AUTH PLAIN ${plain('', 'alice', 'correct horse')}`);
  assert.equal(`${refused.code} ${refused.enhanced}`, '538 5.7.11');
  await client.startTls();
  const secureEhlo = await client.send('EHLO client.example');
  assert.ok(secureEhlo.lines.includes('AUTH PLAIN LOGIN'));
  const ok = await client.send(`AUTH PLAIN ${plain('', 'alice', 'correct horse')}`);
  assert.equal(`${ok.code} ${ok.enhanced}`, '235 2.7.0');
});

test('AUTH PLAIN with an initial response, and the authenticated user reaches the handlers', async (t) => {
  const { port, seen } = await startServer(t, { auth: { allowInsecureAuth: true } }, checker);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const ok = await client.send(`AUTH PLAIN ${plain('alice', 'alice', 'correct horse')}`);
  assert.equal(ok.code, 235);
  const again = await client.send(`AUTH PLAIN ${plain('', 'alice', 'correct horse')}`);
  assert.equal(again.code, 503);
  const reply = await client.sendMail({
    from: 'alice@outpost.test',
    to: ['bob@example.org'],
    body: 'x',
    ehlo: false,
    mailParams: 'AUTH=alice+40outpost.test',
  });
  assert.equal(reply.code, 250);
  assert.equal(seen.messages[0]?.session.user, 'alice');
  assert.equal(seen.senders[0]?.params.auth, 'alice@outpost.test');
});

test('AUTH PLAIN with the response on its own line', async (t) => {
  const { port } = await startServer(t, { auth: { allowInsecureAuth: true } }, checker);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const challenge = await client.send('AUTH PLAIN');
  assert.equal(challenge.code, 334);
  assert.equal(challenge.text, '');
  const ok = await client.send(plain('', 'alice', 'correct horse'));
  assert.equal(ok.code, 235);
});

test('AUTH LOGIN asks for user name and password', async (t) => {
  const { port } = await startServer(t, { auth: { allowInsecureAuth: true } }, checker);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const username = await client.send('AUTH LOGIN');
  assert.equal(username.code, 334);
  assert.equal(Buffer.from(username.text, 'base64').toString(), 'Username:');
  const password = await client.send(base64('alice'));
  assert.equal(Buffer.from(password.text, 'base64').toString(), 'Password:');
  assert.equal((await client.send(base64('correct horse'))).code, 235);

  const other = await smtpConnect(port);
  await other.send('EHLO client.example');
  assert.equal((await other.send(`AUTH LOGIN ${base64('alice')}`)).code, 334);
  assert.equal((await other.send(base64('correct horse'))).code, 235);
});

test('wrong credentials get 535 5.7.8 and the client may try again', async (t) => {
  const { port } = await startServer(t, { auth: { allowInsecureAuth: true } }, checker);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const wrong = await client.send(`AUTH PLAIN ${plain('', 'alice', 'wrong')}`);
  assert.equal(`${wrong.code} ${wrong.enhanced}`, '535 5.7.8');
  await client.send('AUTH LOGIN');
  await client.send(base64('mallory'));
  assert.equal((await client.send(base64('correct horse'))).code, 535);
  const proxy = await client.send(`AUTH PLAIN ${plain('bob', 'alice', 'correct horse')}`);
  assert.equal(proxy.code, 535);
  assert.equal((await client.send(`AUTH PLAIN ${plain('', 'alice', 'correct horse')}`)).code, 235);
});

test('AUTH errors: cancel, bad base64, unknown mechanism, during a transaction, before EHLO', async (t) => {
  const { port } = await startServer(t, { auth: { allowInsecureAuth: true } }, checker);
  const client = await smtpConnect(port);
  assert.equal((await client.send('AUTH PLAIN')).code, 503);
  await client.send('EHLO client.example');
  await client.send('AUTH LOGIN');
  const cancelled = await client.send('*');
  assert.equal(`${cancelled.code} ${cancelled.enhanced}`, '501 5.0.0');
  const garbage = await client.send('AUTH PLAIN not*base64');
  assert.equal(`${garbage.code} ${garbage.enhanced}`, '501 5.5.2');
  const mechanism = await client.send('AUTH CRAM-MD5');
  assert.equal(`${mechanism.code} ${mechanism.enhanced}`, '504 5.5.4');
  await client.send('MAIL FROM:<a@client.example>');
  assert.equal((await client.send(`AUTH PLAIN ${plain('', 'alice', 'correct horse')}`)).code, 503);
});

test('an authenticate handler that throws gives 454 4.7.0', async (t) => {
  const { port } = await startServer(
    t,
    { auth: { allowInsecureAuth: true } },
    {
      async authenticate() {
        throw new Error('password database offline');
      },
    },
  );
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const reply = await client.send(`AUTH PLAIN ${plain('', 'alice', 'x')}`);
  assert.equal(`${reply.code} ${reply.enhanced}`, '454 4.7.0');
});

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { createSmtpTarget, type SmtpTargetOptions } from '../../../../src/delivery/smtp/index.js';
import { startTestDns } from '../../../helpers/dns.js';
import { listenForTest } from '../../../helpers/net.js';
import { batch, deliver, rcpt, sharedPort, startReceiver, summary } from './world.js';

/** What a scripted server saw on one connection: the raw chunks and the command lines. */
interface ScriptedSession {
  chunks: string[];
  commands: string[];
  socket: Socket;
}

interface ScriptedServer {
  port: number;
  sessions: ScriptedSession[];
}

/**
 * A scripted SMTP server on 127.0.0.1. With `holdEnvelope` it answers nothing after EHLO until it
 * holds MAIL and `holdEnvelope` RCPTs: a client that waits for each reply before the next command
 * would never get there (and time out), so passing proves the envelope came as one group.
 * `hangUpAtMail` drops the connection when MAIL arrives.
 */
async function scriptedServer(
  t: TestContext,
  options: { pipelining: boolean; holdEnvelope?: number; hangUpAtMail?: boolean },
): Promise<ScriptedServer> {
  const sessions: ScriptedSession[] = [];
  const server = createServer((socket: Socket) => {
    const session: ScriptedSession = { chunks: [], commands: [], socket };
    sessions.push(session);
    let buffer = '';
    let inData = false;
    let held: string[] = [];
    socket.write('220 scripted.test ESMTP\r\n');
    socket.on('error', () => socket.destroy());
    const answer = (line: string): string => {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO')
        return options.pipelining ? '250-scripted.test\r\n250 PIPELINING\r\n' : '250 scripted.test\r\n';
      if (verb === 'DATA') {
        inData = true;
        return '354 go\r\n';
      }
      if (verb === 'QUIT') return '221 bye\r\n';
      return '250 2.0.0 ok\r\n';
    };
    socket.on('data', (chunk: Buffer) => {
      session.chunks.push(chunk.toString('latin1'));
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
        session.commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        if (options.hangUpAtMail === true && verb === 'MAIL') {
          socket.destroy();
          return;
        }
        if (options.holdEnvelope !== undefined && (verb === 'MAIL' || verb === 'RCPT')) {
          held.push(line);
          if (held.length === options.holdEnvelope + 1) {
            socket.write(held.map(answer).join(''));
            held = [];
          }
          continue;
        }
        socket.write(answer(line));
        if (verb === 'QUIT') socket.end();
      }
    });
  });
  return { port: await listenForTest(t, server), sessions };
}

async function scriptedTarget(t: TestContext, port: number, extra: Partial<SmtpTargetOptions> = {}) {
  const dns = await startTestDns(t, '$ORIGIN scripted.test.\n@ A 127.0.0.1\n');
  const target = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    port,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 3000,
    dataTimeoutMs: 3000,
    ...extra,
  });
  t.after(() => target.close());
  return target;
}

const THREE = [rcpt('a@scripted.test'), rcpt('b@scripted.test', 1), rcpt('c@scripted.test', 2)];

test('PIPELINING: MAIL and every RCPT go out before any reply, then DATA on its own', async (t) => {
  const server = await scriptedServer(t, { pipelining: true, holdEnvelope: 3 });
  const target = await scriptedTarget(t, server.port);
  const results = await deliver(target, THREE);
  assert.deepEqual(summary(results), [
    '0 delivered 250 2.0.0',
    '1 delivered 250 2.0.0',
    '2 delivered 250 2.0.0',
  ]);
  const session = server.sessions[0];
  assert.ok(session !== undefined);
  const envelope = session.chunks.find((chunk) => chunk.startsWith('MAIL'));
  assert.equal(
    envelope,
    'MAIL FROM:<a@sender.test>\r\nRCPT TO:<a@scripted.test>\r\nRCPT TO:<b@scripted.test>\r\nRCPT TO:<c@scripted.test>\r\n',
    'the envelope is one write, in order',
  );
  assert.deepEqual(
    session.commands.map((line) => line.slice(0, 4)),
    ['EHLO', 'MAIL', 'RCPT', 'RCPT', 'RCPT', 'DATA'],
  );
});

test('without PIPELINING on offer, each command waits for its reply', async (t) => {
  const server = await scriptedServer(t, { pipelining: false });
  const target = await scriptedTarget(t, server.port);
  await deliver(target, THREE);
  const session = server.sessions[0];
  assert.ok(session !== undefined);
  const envelopeChunks = session.chunks.filter((chunk) => /^(MAIL|RCPT)/.test(chunk));
  assert.deepEqual(
    envelopeChunks,
    [
      'MAIL FROM:<a@sender.test>\r\n',
      'RCPT TO:<a@scripted.test>\r\n',
      'RCPT TO:<b@scripted.test>\r\n',
      'RCPT TO:<c@scripted.test>\r\n',
    ],
    'one command per write',
  );
});

test('pipelined RCPT replies are matched to their recipients in order; results name the remote MTA', async (t) => {
  const port = await sharedPort();
  const dns = await startTestDns(t, '$ORIGIN dest.test.\n@ MX 10 mx1.dest.test.\nmx1 A 127.0.0.2\n');
  const mx = await startReceiver(t, {
    ip: '127.0.0.2',
    port,
    rcpt: (address) => {
      if (address.startsWith('busy')) return { code: 450, enhanced: '4.2.1', text: 'Mailbox busy' };
      if (address.startsWith('nobody')) return { code: 550, enhanced: '5.1.1', text: 'No such user' };
      return undefined;
    },
  });
  const target = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    port,
    commandTimeoutMs: 5000,
  });
  t.after(() => target.close());
  const results = await deliver(target, [
    rcpt('bob@dest.test'),
    rcpt('busy@dest.test', 1),
    rcpt('carol@dest.test', 2),
    rcpt('nobody@dest.test', 3),
  ]);
  assert.deepEqual(summary(results), [
    '0 delivered 250 2.0.0',
    '1 deferred 450 4.2.1',
    '2 delivered 250 2.0.0',
    '3 failed 550 5.1.1',
  ]);
  assert.deepEqual(
    results.map((result) => result.remoteMta),
    ['mx1.dest.test', 'mx1.dest.test', 'mx1.dest.test', 'mx1.dest.test'],
  );
  assert.deepEqual(
    mx.messages[0]?.recipients.map((r) => r.address),
    ['bob@dest.test', 'carol@dest.test'],
  );
});

test('a pooled session is reused without RSET: the second message costs MAIL, RCPT, DATA only', async (t) => {
  const server = await scriptedServer(t, { pipelining: true });
  const target = await scriptedTarget(t, server.port);
  assert.deepEqual(summary(await deliver(target, [rcpt('a@scripted.test')])), ['0 delivered 250 2.0.0']);
  assert.deepEqual(summary(await deliver(target, [rcpt('b@scripted.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(server.sessions.length, 1);
  assert.deepEqual(
    server.sessions[0]?.commands.map((line) => line.slice(0, 4)),
    ['EHLO', 'MAIL', 'RCPT', 'DATA', 'MAIL', 'RCPT', 'DATA'],
  );
});

test('a pooled session that died unseen is replaced once, transparently, and nothing is lost', async (t) => {
  const server = await scriptedServer(t, { pipelining: true });
  const target = await scriptedTarget(t, server.port);
  await deliver(target, [rcpt('a@scripted.test')]);
  assert.equal(target.idleConnections(), 1);
  // Make the idle session look alive to us but have the server drop whatever comes next: the
  // failure shows only when MAIL is sent, as with a peer whose idle timeout raced our reuse.
  const first = server.sessions[0];
  assert.ok(first !== undefined);
  first.socket.removeAllListeners('data');
  first.socket.on('data', () => first.socket.destroy());
  const prepared = await target.prepare(batch([rcpt('b@scripted.test')]));
  assert.deepEqual(prepared.results, []);
  assert.deepEqual(summary(await prepared.commit()), ['0 delivered 250 2.0.0']);
  assert.equal(server.sessions.length, 2, 'one new connection');
  assert.deepEqual(
    server.sessions[1]?.commands.map((line) => line.slice(0, 4)),
    ['EHLO', 'MAIL', 'RCPT', 'DATA'],
  );
});

test('a 421 to MAIL on a pooled session (the peer hanging up) also reconnects once', async (t) => {
  const server = await scriptedServer(t, { pipelining: false });
  const target = await scriptedTarget(t, server.port);
  await deliver(target, [rcpt('a@scripted.test')]);
  const first = server.sessions[0];
  assert.ok(first !== undefined);
  first.socket.removeAllListeners('data');
  first.socket.on('data', () => first.socket.end('421 4.4.2 scripted.test idle too long\r\n'));
  assert.deepEqual(summary(await deliver(target, [rcpt('b@scripted.test')])), ['0 delivered 250 2.0.0']);
  assert.equal(server.sessions.length, 2);
});

test('a new session that breaks at MAIL is not retried: the recipient is deferred', async (t) => {
  const server = await scriptedServer(t, { pipelining: true, hangUpAtMail: true });
  const target = await scriptedTarget(t, server.port);
  const [result] = await deliver(target, [rcpt('a@scripted.test')]);
  assert.equal(result?.status, 'deferred');
  assert.equal(result?.reply.enhanced, '4.4.2');
  assert.equal(server.sessions.length, 1, 'no reconnect loop for a session that was new');
});

test('passedOn: NOTIFY went on to a DSN-capable next hop; relayed when it could not', async (t) => {
  const port = await sharedPort();
  const dns = await startTestDns(
    t,
    '$ORIGIN dsn.test.\n@ MX 10 mx.dsn.test.\nmx A 127.0.0.2\n$ORIGIN plain.test.\n@ MX 10 mx.plain.test.\nmx A 127.0.0.3\n',
  );
  await startReceiver(t, { ip: '127.0.0.2', port, dsn: true });
  await startReceiver(t, { ip: '127.0.0.3', port, dsn: false });
  const target = createSmtpTarget({
    resolver: dns.resolver,
    heloName: 'sender.test',
    port,
    commandTimeoutMs: 5000,
  });
  t.after(() => target.close());
  const results = await deliver(target, [
    rcpt('a@dsn.test', 0, { notify: ['SUCCESS'] }),
    rcpt('b@dsn.test', 1),
    rcpt('c@plain.test', 2, { notify: ['SUCCESS'] }),
  ]);
  assert.deepEqual(
    results.map((r) => [r.status, r.passedOn === true, r.relayed === true, r.remoteMta]),
    [
      ['delivered', true, false, 'mx.dsn.test'],
      ['delivered', false, false, 'mx.dsn.test'],
      ['delivered', false, true, 'mx.plain.test'],
    ],
  );
});

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { silentLogger } from '../../../src/core/log.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { type InboundDeps, mxHandlers } from '../../../src/inbound/mx.js';
import { ListenerPolicy } from '../../../src/inbound/policy.js';
import type { CheckResult } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { createSmtpServer } from '../../../src/protocol/smtp/server.js';
import { fakeCheck } from '../pipeline/stage-checks.js';
import { TEST_OPTIONS } from '../smtp/fixture.js';

/** An MX whose only check, at MAIL FROM, waits (30 s timeout) and hands over the signal it was given. */
async function mxWithSlowCheck(t: TestContext) {
  let signalled: (signal: AbortSignal) => void = () => undefined;
  const checkSignal = new Promise<AbortSignal>((resolve) => {
    signalled = resolve;
  });
  const registry = new Map([
    fakeCheck('slow', (ctx) => {
      signalled(ctx.signal);
      return new Promise<CheckResult>(() => {});
    }),
  ]);
  const deps = {
    listenerName: 'mx',
    hostname: () => 'mx.ours.test',
    policy: new ListenerPolicy({
      checks: compileChecks([{ use: 'slow', timeout: 30_000 }], registry),
      resolver: createResolver({ servers: ['127.0.0.1:9'] }),
      dnsBudget: 10,
      softBounce: false,
      refuseAtGreeting: false,
      logger: silentLogger(),
    }),
    logger: silentLogger(),
    onQueued: () => undefined,
  } as unknown as InboundDeps;
  const server = createSmtpServer({ ...TEST_OPTIONS, commandTimeoutMs: 60_000 }, mxHandlers(deps));
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(() => server.close({ timeoutMs: 0 }));
  return { port, checkSignal };
}

/** Resolves with the first complete reply line starting with `code` on `socket`. */
function replyLine(socket: Socket, code: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (new RegExp(`^${code} `, 'm').test(seen)) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
}

test("a client whose connection is reset stops its session's running checks at once, not at their timeout", async (t) => {
  const { port, checkSignal } = await mxWithSlowCheck(t);
  const socket = connect({ port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  await replyLine(socket, '220');
  socket.write('EHLO client.test\r\n');
  await replyLine(socket, '250');
  socket.write('MAIL FROM:<someone@client.test>\r\n');
  const signal = await checkSignal;
  assert.equal(signal.aborted, false, 'the check runs while the client waits');
  const aborted = new Promise<unknown>((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason)),
  );
  socket.resetAndDestroy();
  const reason = await Promise.race([
    aborted,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('check still running 5 s after the reset')), 5000),
    ),
  ]);
  assert.match(String(reason), /client disconnected/);
});

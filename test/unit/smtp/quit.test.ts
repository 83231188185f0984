import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startServer } from './fixture.js';

/**
 * Writes a line at a time, each once the last was taken, until a write fails (true) or the
 * attempts are used up (false).
 */
async function writeUntilRefused(socket: Socket, attempts: number): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const refused = await new Promise<boolean>((resolve) =>
      socket.write('NOOP\r\n', (error) => resolve(!!error)),
    );
    if (refused) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

test('after QUIT the server closes at once instead of waiting for the client to close', async (t) => {
  const { port, seen } = await startServer(t);
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    received += text;
  });
  const ended = once(socket, 'end');
  socket.write('EHLO client.example\r\nQUIT\r\n');
  await ended;
  const codes = received
    .split('\r\n')
    .filter((line) => /^\d{3} /.test(line))
    .map((line) => line.slice(0, 3));
  assert.deepEqual(codes, ['220', '250', '221']);
  assert.match(received, /221 2\.0\.0 mx\.outpost\.test closing connection\r\n$/);
  // Our side stays open. Lines written after the server's FIN reach a closed socket, which answers
  // with a reset, so a later write fails; a server that only half-closed would take them all and
  // wait for our FIN (or its 2 s linger timer, which these few writes do not reach).
  assert.equal(await writeUntilRefused(socket, 20), true);
  assert.equal(seen.closed.length, 1);
});

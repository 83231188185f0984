// Loopback plumbing the integration and interop tests share: a free port, a connect probe, a test
// server's listen and clean-up, and a bounded poll that names what it waited for.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

/** A TCP port that is free on `address` now: listen on 0, note the port, close. */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, address, resolve);
  });
  const bound = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (bound === null || typeof bound !== 'object') throw new Error(`no free port on ${address}`);
  return bound.port;
}

/** True when something accepts a TCP connection on `port` now. */
export function accepts(port: number, address = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface WaitOptions {
  /** How long to poll before failing; 15 s unless told. */
  timeoutMs?: number;
  /** The pause between polls; 50 ms unless told. */
  intervalMs?: number;
}

/** Polls `probe` (bounded) until it returns a value; fails naming what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 50 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Listens on an ephemeral loopback port and returns it; when the test ends, every connection the
 * server accepted is dropped and the server closed, so no test waits for a client to hang up.
 */
export async function listenForTest(t: TestContext, server: Server): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

import { createServer } from 'node:net';

/** Binds `port` (0 = any) on `host`; resolves with the port bound, then releases it. */
function probe(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

const ATTEMPTS = 20;

/**
 * A TCP port free on every one of `hosts` now, so that each post office can listen on it at its own
 * address, as each listens on port 25 on the Internet.
 */
export async function portFreeOnAll(hosts: readonly string[]): Promise<number> {
  const [first, ...others] = hosts;
  if (first === undefined) throw new Error('portFreeOnAll: no hosts');
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = await probe(first, 0);
    if (port === undefined) continue;
    const taken = await Promise.all(others.map((host) => probe(host, port)));
    if (taken.every((bound) => bound === port)) return port;
  }
  throw new Error(`no TCP port free on all of ${hosts.join(', ')} after ${ATTEMPTS} tries`);
}

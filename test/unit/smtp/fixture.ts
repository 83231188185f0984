import type { TestContext } from 'node:test';
import { createSmtpServer, type SmtpServer } from '../../../src/protocol/smtp/server.js';
import type {
  MailParams,
  SessionInfo,
  SmtpHandlers,
  SmtpServerOptions,
  Transaction,
} from '../../../src/protocol/smtp/types.js';

/** Small limits so that tests reach them quickly. */
export const TEST_OPTIONS: SmtpServerOptions = {
  hostname: 'mx.outpost.test',
  banner: 'outpost test',
  maxMessageSize: 10_000,
  maxRecipients: 5,
  maxHops: 10,
  maxCommandLine: 512,
  maxDataLine: 1000,
  maxConnections: 20,
  maxConnectionsPerIp: 10,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 10_000,
  maxErrors: 10,
  dsn: true,
};

/** What the recording handlers saw. */
export interface Seen {
  senders: { from: string; params: MailParams; session: SessionInfo }[];
  messages: { transaction: Transaction; message: Buffer; session: SessionInfo }[];
  closed: SessionInfo[];
}

export interface TestServer {
  server: SmtpServer;
  port: number;
  seen: Seen;
}

/**
 * Starts a server on an ephemeral loopback port with handlers that accept everything and record
 * what they saw; `handlers` replaces any of them. Closed when the test ends.
 */
export async function startServer(
  t: TestContext,
  options: Partial<SmtpServerOptions> = {},
  handlers: Partial<SmtpHandlers> = {},
): Promise<TestServer> {
  const seen: Seen = { senders: [], messages: [], closed: [] };
  const server = createSmtpServer(
    { ...TEST_OPTIONS, ...options },
    {
      async mailFrom(session, from, params) {
        seen.senders.push({ from, params, session });
        return undefined;
      },
      async rcptTo() {
        return undefined;
      },
      async data(session, transaction, message) {
        seen.messages.push({ transaction, message, session });
        return { code: 250, enhanced: '2.0.0', text: `Queued as test-${seen.messages.length}` };
      },
      close(session) {
        seen.closed.push(session);
      },
      ...handlers,
    },
  );
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(() => server.close({ timeoutMs: 0 }));
  return { server, port, seen };
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Waits (bounded) until the condition holds, for effects that land on the server side after the client sees them. */
export async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

import { createServer } from 'node:net';
import type { TestContext } from 'node:test';
import type { Reply } from '../../../../src/core/reply.js';
import type { DsnEnvelope } from '../../../../src/delivery/smtp/envelope.js';
import type { SmtpTarget } from '../../../../src/delivery/smtp/index.js';
import type { DeliveryBatch, RecipientResult } from '../../../../src/delivery/types.js';
import { createSmtpServer } from '../../../../src/protocol/smtp/server.js';
import type {
  MailParams,
  Recipient,
  SessionInfo,
  SmtpHandlers,
  SmtpServerOptions,
} from '../../../../src/protocol/smtp/types.js';
import type { LeasedRecipient } from '../../../../src/queue/store/types.js';

const RECEIVED = 1_700_000_000_000;
export const BODY = Buffer.from('From: a@sender.test\r\nSubject: hello\r\n\r\nHello.\r\n.leading dot\r\n');

/** What one receiving server saw. */
export interface Received {
  /** Connections that reached the greeting stage. */
  connections: number;
  /** Commands of extension verbs (XGEN) with their arguments, in order, with the MAILs between them. */
  events: string[];
  mails: { from: string; params: MailParams }[];
  messages: { from: string; recipients: Recipient[]; body: Buffer; session: SessionInfo }[];
  logins: { username: string; password: string }[];
  /** Stops the server (its sessions get 421). */
  close(): Promise<void>;
}

export interface ReceiverSpec {
  ip: string;
  port: number;
  /** Refuse at the greeting with 554 (the trusted MX turning away an unknown sender). */
  refuseGreeting?: boolean;
  tls?: { key: Buffer; cert: Buffer };
  dsn?: boolean;
  /** Offer XGEN and answer it with this reply. */
  xgen?: Reply;
  auth?: { username: string; password: string };
  /** Reply to RCPT by address; undefined accepts. */
  rcpt?: (address: string) => { code: number; enhanced: string; text: string } | undefined;
}

const OPTIONS: SmtpServerOptions = {
  hostname: 'receiver.test',
  maxMessageSize: 1_000_000,
  maxRecipients: 50,
  maxHops: 100,
  maxCommandLine: 2048,
  maxDataLine: 10_000,
  maxConnections: 50,
  maxConnectionsPerIp: 50,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 10_000,
  maxErrors: 10,
  dsn: false,
};

/** A TCP port free on 127.0.0.2 now; receivers share it, each on its own loopback address. */
export async function sharedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.2', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** An SMTP server built on our protocol layer that records what arrives. Closed when the test ends. */
export async function startReceiver(t: TestContext, spec: ReceiverSpec): Promise<Received> {
  const received: Received = {
    connections: 0,
    events: [],
    mails: [],
    messages: [],
    logins: [],
    close: async () => undefined,
  };
  const handlers: SmtpHandlers = {
    async connect() {
      received.connections++;
      return spec.refuseGreeting
        ? { code: 554, enhanced: '5.7.1', text: 'Not on the trust list' }
        : undefined;
    },
    async mailFrom(_session, from, params) {
      received.mails.push({ from, params });
      received.events.push(`MAIL ${from}`);
      return undefined;
    },
    async rcptTo(_session, _tx, rcpt) {
      return spec.rcpt?.(rcpt.address);
    },
    async data(session, tx, message) {
      received.messages.push({
        from: tx.from,
        recipients: [...tx.recipients],
        body: message,
        session: { ...session },
      });
      return { code: 250, enhanced: '2.0.0', text: `Queued as r${received.messages.length}` };
    },
  };
  const xgenReply = spec.xgen;
  if (xgenReply !== undefined) {
    handlers.verbs = {
      async XGEN(_session, args) {
        received.events.push(`XGEN ${args}`);
        return xgenReply;
      },
    };
  }
  const auth = spec.auth;
  if (auth !== undefined) {
    handlers.authenticate = async (_session, username, password) => {
      received.logins.push({ username, password });
      return username === auth.username && password === auth.password;
    };
  }
  const server = createSmtpServer(
    {
      ...OPTIONS,
      dsn: spec.dsn === true,
      ...(spec.tls === undefined ? {} : { tls: spec.tls }),
      ...(auth === undefined ? {} : { auth: { allowInsecureAuth: false } }),
    },
    handlers,
  );
  await server.listen(spec.port, spec.ip);
  received.close = () => server.close({ timeoutMs: 0 });
  t.after(() => server.close({ timeoutMs: 0 }));
  return received;
}

export function rcpt(address: string, rcptIndex = 0, extra: Partial<LeasedRecipient> = {}): LeasedRecipient {
  return {
    messageId: 'Q1',
    rcptIndex,
    address,
    target: 'smtp',
    folder: '',
    status: 'queued',
    attempts: 0,
    nextAttemptAt: RECEIVED,
    updatedAt: RECEIVED,
    sender: 'a@sender.test',
    receivedAt: RECEIVED,
    leaseUntil: RECEIVED + 60_000,
    ...extra,
  };
}

export function batch(recipients: LeasedRecipient[], extra: Partial<DeliveryBatch & DsnEnvelope> = {}) {
  return { messageId: 'Q1', sender: 'a@sender.test', receivedAt: RECEIVED, body: BODY, recipients, ...extra };
}

/** prepare then commit, as the queue runner does; results sorted by recipient index. */
export async function deliver(
  target: SmtpTarget,
  recipients: LeasedRecipient[],
  extra: Partial<DeliveryBatch & DsnEnvelope> = {},
): Promise<RecipientResult[]> {
  const prepared = await target.prepare(batch(recipients, extra));
  const results = [...prepared.results, ...(await prepared.commit())];
  return results.sort((a, b) => a.rcptIndex - b.rcptIndex);
}

/** "status code enhanced" per recipient, for compact assertions. */
export function summary(results: RecipientResult[]): string[] {
  return results.map((r) => `${r.rcptIndex} ${r.status} ${r.reply.code} ${r.reply.enhanced ?? ''}`.trim());
}

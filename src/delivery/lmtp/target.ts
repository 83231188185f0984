import { isAscii } from 'node:buffer';
// Delivery over LMTP (RFC 2033) to a mailbox server such as Dovecot. prepare takes a connection
// (an idle one after RSET, or a new one after LHLO) and sends MAIL and one RCPT per recipient;
// commit sends DATA and reads one reply per accepted recipient, in RCPT order, so each recipient is
// settled on its own. A connection whose transaction ended cleanly waits for the next message, as
// the smtp target's pool does: connect and LHLO cost more than the delivery of a small message.
import { describeError } from '../../core/errors.js';
import { errorReply, type Reply } from '../../core/reply.js';
import type { LeasedRecipient } from '../../queue/store/types.js';
import type { DeliveryBatch, DeliveryTarget, PreparedDelivery, RecipientResult } from '../types.js';
import type { LmtpEndpoint } from './config.js';
import { describeEndpoint, LmtpConnection } from './connection.js';

export interface LmtpTargetOptions {
  /** Our name in LHLO. */
  lhloName: string;
  /** Target name in the queue; default 'lmtp'. */
  name?: string;
  /** Longest wait for the connection and for each reply. Default 120 s. */
  timeoutMs?: number;
  /** How long a connection is kept for the next message before QUIT; 0 = one per message. Default 5 s. */
  idleTimeoutMs?: number;
  /** Messages sent over one connection before it is closed. Default 100. */
  maxMessagesPerConnection?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_IDLE_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_MESSAGES_PER_CONNECTION = 100;

/** A connection past LHLO, with what the server offered and how many messages it has carried. */
interface Session {
  connection: LmtpConnection;
  extensions: Set<string>;
  messages: number;
}

interface IdleSession {
  session: Session;
  timer: NodeJS.Timeout;
}
const NON_ASCII = /[\u{80}-\u{10FFFF}]/u;

/** 2xx delivered, 4xx deferred, 5xx failed; anything else from an LMTP server is a fault: deferred. */
function statusOf(answer: Reply): RecipientResult['status'] {
  if (answer.code >= 200 && answer.code < 300) return 'delivered';
  if (answer.code >= 500 && answer.code < 600) return 'failed';
  return 'deferred';
}

function settleAll(
  recipients: LeasedRecipient[],
  answer: Reply,
  status = statusOf(answer),
): RecipientResult[] {
  return recipients.map((rcpt) => ({ rcptIndex: rcpt.rcptIndex, status, reply: answer }));
}

/** The server's reply said at the wrong time (a 3xx where 2xx belongs): nothing is certain, retry. */
function unexpected(step: string, answer: Reply): Reply {
  return errorReply('QUEUE_UNAVAILABLE', `LMTP ${step} answered ${answer.code} ${answer.text}`);
}

function mailParameters(batch: DeliveryBatch, extensions: Set<string>): string {
  const params: string[] = [];
  // Any byte above 127 in the message: ask for 8BITMIME when the server offers it.
  if (extensions.has('8BITMIME') && !isAscii(batch.body)) params.push('BODY=8BITMIME');
  const addresses = [batch.sender, ...batch.recipients.map((r) => r.address)];
  if (extensions.has('SMTPUTF8') && addresses.some((a) => NON_ASCII.test(a))) params.push('SMTPUTF8');
  return params.map((p) => ` ${p}`).join('');
}

function extensionsOf(lhlo: Reply): Set<string> {
  return new Set(
    lhlo.text
      .split('\n')
      .slice(1)
      .map((line) => (line.split(' ')[0] ?? '').toUpperCase()),
  );
}

export class LmtpTarget implements DeliveryTarget {
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxMessages: number;
  private readonly where: string;
  private readonly idle: IdleSession[] = [];

  constructor(
    private readonly endpoint: LmtpEndpoint,
    private readonly options: LmtpTargetOptions,
  ) {
    this.name = options.name ?? 'lmtp';
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxMessages = options.maxMessagesPerConnection ?? DEFAULT_MAX_MESSAGES_PER_CONNECTION;
    this.where = describeEndpoint(endpoint);
  }

  async prepare(batch: DeliveryBatch): Promise<PreparedDelivery> {
    let session: Session | PreparedDelivery;
    try {
      session = (await this.reuse()) ?? (await this.connect(batch));
    } catch (error) {
      const answer = errorReply('QUEUE_UNAVAILABLE', `LMTP server unreachable: ${describeError(error)}`);
      return settled(settleAll(batch.recipients, answer, 'deferred'));
    }
    if (!('connection' in session)) return session;
    const { connection } = session;
    try {
      return await this.transaction(session, batch);
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** Number of connections waiting for the next message. */
  idleConnections(): number {
    return this.idle.length;
  }

  /** QUITs every idle connection. */
  close(): void {
    for (const { session, timer } of this.idle.splice(0)) {
      clearTimeout(timer);
      session.connection.close();
    }
  }

  /** An idle connection that answers RSET with 250, or undefined when none is left. */
  private async reuse(): Promise<Session | undefined> {
    for (let entry = this.idle.pop(); entry !== undefined; entry = this.idle.pop()) {
      clearTimeout(entry.timer);
      const { connection } = entry.session;
      if (!connection.reusable) {
        connection.close();
        continue;
      }
      connection.setIdle(false);
      // The server may have dropped it while idle: then a new connection, not a deferral.
      const answer = await connection.command('RSET').catch(() => undefined);
      if (answer?.code === 250) return entry.session;
      connection.close();
    }
    return undefined;
  }

  /** A new connection through greeting and LHLO, or the deferral of the whole batch when refused. */
  private async connect(batch: DeliveryBatch): Promise<Session | PreparedDelivery> {
    const connection = await LmtpConnection.open(this.endpoint, this.timeoutMs);
    const refuseAll = (answer: Reply): PreparedDelivery => {
      connection.close();
      return settled(settleAll(batch.recipients, answer, 'deferred'));
    };
    try {
      const greeting = await connection.readReply();
      if (greeting.code !== 220) return refuseAll(unexpected('greeting', greeting));
      const lhlo = await connection.command(`LHLO ${this.options.lhloName}`);
      if (lhlo.code !== 250) return refuseAll(unexpected('LHLO', lhlo));
      return { connection, extensions: extensionsOf(lhlo), messages: 0 };
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** Keeps a connection whose transaction ended cleanly for the next message, or closes it. */
  private release(session: Session): void {
    const { connection } = session;
    if (!connection.reusable || session.messages >= this.maxMessages || this.idleTimeoutMs <= 0) {
      connection.close();
      return;
    }
    connection.setIdle(true);
    const timer = setTimeout(() => {
      const at = this.idle.findIndex((entry) => entry.session === session);
      if (at >= 0) this.idle.splice(at, 1);
      connection.close();
    }, this.idleTimeoutMs);
    timer.unref();
    this.idle.push({ session, timer });
  }

  /** MAIL and RCPTs. Returns the recipients the server took, ready for DATA. */
  private async transaction(session: Session, batch: DeliveryBatch): Promise<PreparedDelivery> {
    const { connection } = session;
    const mail = await connection.command(
      `MAIL FROM:<${batch.sender}>${mailParameters(batch, session.extensions)}`,
    );
    if (statusOf(mail) !== 'delivered') {
      this.release(session);
      return settled(settleAll(batch.recipients, mail));
    }
    const results: RecipientResult[] = [];
    const accepted: LeasedRecipient[] = [];
    for (const rcpt of batch.recipients) {
      const answer = await connection.command(`RCPT TO:<${rcpt.address}>`);
      if (statusOf(answer) === 'delivered') accepted.push(rcpt);
      else results.push({ rcptIndex: rcpt.rcptIndex, status: statusOf(answer), reply: answer });
    }
    if (accepted.length === 0) {
      this.release(session);
      return settled(results);
    }
    return {
      results,
      commit: () => this.data(session, batch.body, accepted),
      abort: async () => connection.close(),
    };
  }

  /** DATA, the message, then one reply per accepted recipient (RFC 2033 4.2). */
  private async data(
    session: Session,
    body: Buffer,
    accepted: LeasedRecipient[],
  ): Promise<RecipientResult[]> {
    const { connection } = session;
    let clean = false;
    try {
      const go = await connection.command('DATA');
      if (go.code !== 354) {
        clean = true;
        return settleAll(accepted, go.code < 400 ? unexpected('DATA', go) : go);
      }
      connection.sendMessage(body);
      session.messages += 1;
      const results: RecipientResult[] = [];
      clean = true;
      for (const rcpt of accepted) {
        const answer = await connection.readReply().catch((error: unknown) => {
          clean = false;
          // The message may or may not have been delivered to this one: retrying risks a duplicate,
          // which is better than a loss.
          return errorReply(
            'QUEUE_UNAVAILABLE',
            `LMTP ${this.where}: no reply after DATA (${describeError(error)})`,
          );
        });
        results.push({ rcptIndex: rcpt.rcptIndex, status: statusOf(answer), reply: answer });
      }
      return results;
    } finally {
      if (clean) this.release(session);
      else connection.close();
    }
  }
}

/** A delivery with nothing left for commit. */
function settled(results: RecipientResult[]): PreparedDelivery {
  return { results, commit: async () => [], abort: async () => undefined };
}

/** The LMTP delivery target (see LmtpTargetOptions); close() QUITs its idle connections. */
export function createLmtpTarget(endpoint: LmtpEndpoint, options: LmtpTargetOptions): LmtpTarget {
  return new LmtpTarget(endpoint, options);
}

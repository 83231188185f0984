// Delivery over LMTP (RFC 2033) to a mailbox server such as Dovecot. prepare opens the connection
// and sends LHLO, MAIL and one RCPT per recipient; commit sends DATA and reads one reply per
// accepted recipient, in RCPT order, so each recipient is settled on its own.
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
}

const DEFAULT_TIMEOUT_MS = 120_000;
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
  if (extensions.has('8BITMIME') && batch.body.some((byte) => byte > 0x7f)) params.push('BODY=8BITMIME');
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
  private readonly where: string;

  constructor(
    private readonly endpoint: LmtpEndpoint,
    private readonly options: LmtpTargetOptions,
  ) {
    this.name = options.name ?? 'lmtp';
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.where = describeEndpoint(endpoint);
  }

  async prepare(batch: DeliveryBatch): Promise<PreparedDelivery> {
    let connection: LmtpConnection;
    try {
      connection = await LmtpConnection.open(this.endpoint, this.timeoutMs);
    } catch (error) {
      const answer = errorReply('QUEUE_UNAVAILABLE', `LMTP server unreachable: ${describeError(error)}`);
      return settled(settleAll(batch.recipients, answer, 'deferred'));
    }
    try {
      return await this.transaction(connection, batch);
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** Greeting, LHLO, MAIL, RCPTs. Returns the recipients the server took, ready for DATA. */
  private async transaction(connection: LmtpConnection, batch: DeliveryBatch): Promise<PreparedDelivery> {
    const refuseAll = (answer: Reply, status?: RecipientResult['status']): PreparedDelivery => {
      connection.close();
      return settled(settleAll(batch.recipients, answer, status));
    };
    const greeting = await connection.readReply();
    if (greeting.code !== 220) return refuseAll(unexpected('greeting', greeting), 'deferred');
    const lhlo = await connection.command(`LHLO ${this.options.lhloName}`);
    if (lhlo.code !== 250) return refuseAll(unexpected('LHLO', lhlo), 'deferred');
    const mail = await connection.command(
      `MAIL FROM:<${batch.sender}>${mailParameters(batch, extensionsOf(lhlo))}`,
    );
    if (statusOf(mail) !== 'delivered') return refuseAll(mail);
    const results: RecipientResult[] = [];
    const accepted: LeasedRecipient[] = [];
    for (const rcpt of batch.recipients) {
      const answer = await connection.command(`RCPT TO:<${rcpt.address}>`);
      if (statusOf(answer) === 'delivered') accepted.push(rcpt);
      else results.push({ rcptIndex: rcpt.rcptIndex, status: statusOf(answer), reply: answer });
    }
    if (accepted.length === 0) {
      connection.close();
      return settled(results);
    }
    return {
      results,
      commit: () => this.data(connection, batch.body, accepted),
      abort: async () => connection.close(),
    };
  }

  /** DATA, the message, then one reply per accepted recipient (RFC 2033 4.2). */
  private async data(
    connection: LmtpConnection,
    body: Buffer,
    accepted: LeasedRecipient[],
  ): Promise<RecipientResult[]> {
    try {
      const go = await connection.command('DATA');
      if (go.code !== 354) return settleAll(accepted, go.code < 400 ? unexpected('DATA', go) : go);
      connection.sendMessage(body);
      const results: RecipientResult[] = [];
      for (const rcpt of accepted) {
        const answer = await connection.readReply().catch((error: unknown) =>
          // The message may or may not have been delivered to this one: retrying risks a duplicate,
          // which is better than a loss.
          errorReply(
            'QUEUE_UNAVAILABLE',
            `LMTP ${this.where}: no reply after DATA (${describeError(error)})`,
          ),
        );
        results.push({ rcptIndex: rcpt.rcptIndex, status: statusOf(answer), reply: answer });
      }
      return results;
    } finally {
      connection.close();
    }
  }
}

/** A delivery with nothing left for commit. */
function settled(results: RecipientResult[]): PreparedDelivery {
  return { results, commit: async () => [], abort: async () => undefined };
}

/** The LMTP delivery target (see LmtpTargetOptions). */
export function createLmtpTarget(endpoint: LmtpEndpoint, options: LmtpTargetOptions): DeliveryTarget {
  return new LmtpTarget(endpoint, options);
}

// One SMTP transaction on one session: the envelope (pipelined when offered), then DATA on commit
// or RSET on abort; each recipient settled by its own reply, the session back to the pool after.
import type { Logger } from '../../core/log.js';
import { type Reply, reply } from '../../core/reply.js';
import type { LeasedRecipient } from '../../queue/store/types.js';
import type { DeliveryBatch, RecipientResult } from '../types.js';
import { SmtpConnectionError } from './client.js';
import {
  type DsnEnvelope,
  mailCommand,
  needsRelayedNotice,
  passesNoticeOn,
  rcptCommand,
} from './envelope.js';
import type { ConnectionPool } from './pool.js';
import { type Peer, quoteReply } from './session.js';

/** A transaction past its RCPTs, waiting for commit (DATA) or abort (RSET). */
export interface OpenTransaction {
  peer: Peer;
  accepted: LeasedRecipient[];
  release: () => void;
}

/** Why an address gave no transaction; `sessionLost` = a reused session had died, try a new one. */
export interface NextAddress {
  reply: Reply;
  sessionLost?: boolean;
}

/** The replies to the envelope commands; `rcpts` is empty when MAIL was refused. */
interface EnvelopeReplies {
  xgen?: Reply;
  mail: Reply;
  rcpts: Reply[];
}

export interface GroupOutcome {
  results: RecipientResult[];
  open?: Omit<OpenTransaction, 'release'>;
}

export function settleAll(
  recipients: readonly LeasedRecipient[],
  status: RecipientResult['status'],
  answer: Reply,
) {
  return recipients.map((rcpt): RecipientResult => ({ rcptIndex: rcpt.rcptIndex, status, reply: answer }));
}

/** A result carrying the remote server's reply and its name (Remote-MTA of a DSN, RFC 3464 2.3.5). */
function remoteResult(
  peer: Peer,
  rcpt: LeasedRecipient,
  status: RecipientResult['status'],
  answer: Reply,
): RecipientResult {
  return { rcptIndex: rcpt.rcptIndex, status, reply: answer, remoteMta: peer.hostName };
}

/** 2xx delivered, 5xx failed, anything else deferred. */
function statusOf(answer: Reply): RecipientResult['status'] {
  if (answer.code >= 200 && answer.code < 300) return 'delivered';
  return answer.code >= 500 && answer.code < 600 ? 'failed' : 'deferred';
}

export interface TransactionDeps {
  pool: ConnectionPool;
  commandTimeoutMs: number;
  dataTimeoutMs: number;
  xgen?: () => string | undefined;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export class SmtpTransactions {
  constructor(private readonly deps: TransactionDeps) {}

  /** The envelope on one session; a broken connection closes it and asks for the next address. */
  async run(
    peer: Peer,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<GroupOutcome | NextAddress> {
    try {
      return await this.startTransaction(peer, recipients, batch, body);
    } catch (error) {
      peer.client.close();
      if (!(error instanceof SmtpConnectionError)) throw error;
      return {
        reply: reply(451, '4.4.2', `${peer.label}: ${error.message}`),
        sessionLost: error.kind === 'closed',
      };
    }
  }

  private async startTransaction(
    peer: Peer,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<GroupOutcome | NextAddress> {
    const addresses = recipients.map((rcpt) => rcpt.address);
    const dsn: DsnEnvelope = { envid: batch.envid, ret: batch.ret };
    const replies = await this.sendEnvelope(
      peer,
      mailCommand(batch.sender, body, addresses, dsn, peer.extensions),
      recipients.map((rcpt) => rcptCommand(rcpt, peer.extensions)),
    );
    if (replies.xgen !== undefined && replies.xgen.code >= 400) {
      this.deps.logger?.warn({ host: peer.label, reply: quoteReply(replies.xgen) }, 'smtp: XGEN refused');
    }
    const mail = replies.mail;
    if (mail.code === 421) {
      // The peer is closing the session (RFC 5321 3.8): on a pooled one, most likely its idle timeout.
      peer.client.close();
      return {
        reply: reply(451, mail.enhanced ?? '4.4.2', `${peer.label}: ${quoteReply(mail)}`),
        sessionLost: true,
      };
    }
    if (statusOf(mail) === 'deferred') {
      this.deps.pool.give(peer);
      return {
        reply: reply(451, mail.enhanced ?? '4.0.0', `${peer.label} deferred MAIL: ${quoteReply(mail)}`),
      };
    }
    if (statusOf(mail) === 'failed') {
      this.deps.pool.give(peer);
      return { results: recipients.map((rcpt) => remoteResult(peer, rcpt, 'failed', mail)) };
    }
    const results: RecipientResult[] = [];
    const accepted: LeasedRecipient[] = [];
    recipients.forEach((rcpt, index) => {
      const answer = replies.rcpts[index] ?? reply(451, '4.4.2', `${peer.label} gave no reply to RCPT`);
      const status = statusOf(answer);
      if (status === 'delivered') accepted.push(rcpt);
      else results.push(remoteResult(peer, rcpt, status, answer));
    });
    if (accepted.length > 0) return { results, open: { peer, accepted } };
    await this.reset(peer);
    return { results };
  }

  /**
   * XGEN (when the peer offers it and we have a cookie), MAIL and the RCPTs. With PIPELINING
   * (RFC 2920) they go in one write and the replies are read in order: one round trip for the
   * envelope instead of two and more. DATA is not in the group: it belongs to commit.
   */
  private async sendEnvelope(peer: Peer, mail: string, rcpts: string[]): Promise<EnvelopeReplies> {
    const timeout = this.deps.commandTimeoutMs;
    const xgenArgs =
      this.deps.xgen !== undefined && peer.extensions.has('XGEN') ? this.deps.xgen() : undefined;
    const xgen = xgenArgs === undefined ? [] : [`XGEN ${xgenArgs}`];
    if (peer.extensions.has('PIPELINING')) {
      const replies = await peer.client.pipeline([...xgen, mail, ...rcpts], timeout);
      const [first, ...rest] = replies;
      const [mailReply, ...rcptReplies] = xgen.length > 0 ? rest : replies;
      if (mailReply === undefined) throw new SmtpConnectionError('protocol', 'no reply to MAIL');
      const envelope: EnvelopeReplies = {
        mail: mailReply,
        rcpts: statusOf(mailReply) === 'delivered' ? rcptReplies : [],
      };
      if (xgen.length > 0 && first !== undefined) envelope.xgen = first;
      return envelope;
    }
    const xgenReply = xgen[0] === undefined ? undefined : await peer.client.command(xgen[0], timeout);
    const mailReply = await peer.client.command(mail, timeout);
    const rcptReplies: Reply[] = [];
    if (statusOf(mailReply) === 'delivered') {
      for (const line of rcpts) rcptReplies.push(await peer.client.command(line, timeout));
    }
    return xgenReply === undefined
      ? { mail: mailReply, rcpts: rcptReplies }
      : { xgen: xgenReply, mail: mailReply, rcpts: rcptReplies };
  }

  /** DATA and the body; the final reply applies to every accepted recipient. */
  async commit(transaction: OpenTransaction, body: Buffer): Promise<RecipientResult[]> {
    const { peer, accepted } = transaction;
    try {
      const data = await peer.client.command('DATA', this.deps.commandTimeoutMs);
      if (data.code !== 354) {
        await this.reset(peer);
        const status = statusOf(data) === 'failed' ? 'failed' : 'deferred';
        return accepted.map((rcpt) => remoteResult(peer, rcpt, status, data));
      }
      const final = await peer.client.sendBody(body, this.deps.dataTimeoutMs);
      peer.messages++;
      this.deps.pool.give(peer);
      return accepted.map((rcpt) => {
        const result = remoteResult(peer, rcpt, statusOf(final), final);
        if (result.status !== 'delivered') return result;
        if (needsRelayedNotice(rcpt, peer.extensions)) result.relayed = true;
        if (passesNoticeOn(rcpt, peer.extensions)) result.passedOn = true;
        return result;
      });
    } catch (error) {
      peer.client.close();
      if (!(error instanceof SmtpConnectionError)) throw error;
      // The peer may have taken the message before the connection broke: a retry may duplicate it,
      // which RFC 5321 6.1 prefers to losing it.
      return settleAll(
        accepted,
        'deferred',
        reply(451, '4.4.2', `${peer.label} during DATA: ${error.message}`),
      );
    } finally {
      transaction.release();
    }
  }

  async abort(transaction: OpenTransaction): Promise<void> {
    try {
      await this.reset(transaction.peer);
    } finally {
      transaction.release();
    }
  }

  /** RSET ends the transaction; the session goes back to the pool if it answered. */
  private async reset(peer: Peer): Promise<void> {
    const answer = await peer.client.command('RSET', this.deps.commandTimeoutMs).catch(() => undefined);
    if (answer?.code === 250) this.deps.pool.give(peer);
    else peer.client.close();
  }
}

import { isOutpostError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import type { InboundMetrics } from '../metrics/registry.js';
import type { SmtpHandlers } from '../protocol/smtp/types.js';

/** A refusal's metric label: the stage and the reply code, a small fixed set (never client text). */
function reasonOf(stage: string, reply: Reply): string {
  return `${stage}_${reply.code}`;
}

/**
 * Counts what a listener accepts and refuses, and times end of DATA to the reply, around any
 * profile's handlers; the profiles themselves stay free of bookkeeping.
 */
export function meteredHandlers(
  handlers: SmtpHandlers,
  metrics: InboundMetrics,
  listener: string,
): SmtpHandlers {
  const observe = async (
    stage: string,
    run: () => Promise<Reply | undefined>,
  ): Promise<Reply | undefined> => {
    try {
      const reply = await run();
      if (reply !== undefined && reply.code >= 400) metrics.rejected(listener, reasonOf(stage, reply));
      return reply;
    } catch (error) {
      metrics.rejected(listener, isOutpostError(error) ? `${stage}_${error.code}` : `${stage}_error`);
      throw error;
    }
  };
  const { connect, helo } = handlers;
  return {
    ...handlers,
    ...(connect ? { connect: (session) => observe('connect', () => connect(session)) } : {}),
    ...(helo ? { helo: (session, name) => observe('helo', () => helo(session, name)) } : {}),
    mailFrom: (session, from, params) => observe('mail', () => handlers.mailFrom(session, from, params)),
    rcptTo: (session, tx, rcpt) => observe('rcpt', () => handlers.rcptTo(session, tx, rcpt)),
    async data(session, tx, message) {
      const started = process.hrtime.bigint();
      const reply = (await observe('data', () => handlers.data(session, tx, message))) as Reply;
      metrics.dataToReply(Number(process.hrtime.bigint() - started) / 1e9);
      if (reply.code < 400) metrics.accepted(listener);
      return reply;
    },
  };
}

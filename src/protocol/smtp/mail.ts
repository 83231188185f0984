import { errorReply } from '../../core/reply.js';
import { parseMailParams } from './params.js';
import { checkMailbox, parsePathArgument } from './parser.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';

/** MAIL FROM:<reverse-path> [params]: opens a transaction once the handler accepts the sender. */
export async function handleMail(session: Session, args: string): Promise<void> {
  if (session.info.helo === undefined)
    return session.fail(errorReply('BAD_SEQUENCE', 'Send EHLO or HELO first'));
  if (session.transaction !== undefined)
    return session.fail(errorReply('BAD_SEQUENCE', 'Nested MAIL command'));
  const path = parsePathArgument(args, 'FROM:');
  if (!path.ok) return session.fail(path.reply);
  const { address, params: tokens } = path.value;
  if (!session.info.esmtp && tokens.length > 0) {
    return session.fail(errorReply('PARAM_NOT_IMPLEMENTED', 'ESMTP parameters need EHLO'));
  }
  const params = parseMailParams(tokens, session.options);
  if (!params.ok) {
    // A declared SIZE over the limit is an honest client being told no, not a protocol error.
    return params.reply.code === 552 ? session.send(params.reply) : session.fail(params.reply);
  }
  const bad = checkMailbox(address, {
    allowNull: true,
    allowPostmaster: false,
    smtputf8: params.value.smtputf8,
  });
  if (bad !== undefined) return session.fail(bad);
  const outcome = await session.call('mailFrom', () =>
    session.handlers.mailFrom(session.info, address, params.value),
  );
  const reply = outcome.ok ? (outcome.value ?? Replies.SENDER_OK) : outcome.reply;
  if (reply.code < 400) session.transaction = { from: address, params: params.value, recipients: [] };
  session.send(reply);
}

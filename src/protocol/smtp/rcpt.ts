import { errorReply } from '../../core/reply.js';
import { parseRcptParams } from './params.js';
import { checkMailbox, parsePathArgument } from './parser.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';
import type { Recipient } from './types.js';

/** RCPT TO:<forward-path> [params]: adds a recipient once the handler accepts it. */
export async function handleRcpt(session: Session, args: string): Promise<void> {
  const transaction = session.transaction;
  if (transaction === undefined) return session.fail(errorReply('BAD_SEQUENCE', 'Need MAIL command first'));
  const path = parsePathArgument(args, 'TO:');
  if (!path.ok) return session.fail(path.reply);
  const { address, params: tokens } = path.value;
  if (!session.info.esmtp && tokens.length > 0) {
    return session.fail(errorReply('PARAM_NOT_IMPLEMENTED', 'ESMTP parameters need EHLO'));
  }
  const params = parseRcptParams(tokens, session.options);
  if (!params.ok) return session.fail(params.reply);
  const smtputf8 = transaction.params.smtputf8;
  const bad = checkMailbox(address, { allowNull: false, allowPostmaster: true, smtputf8 });
  if (bad !== undefined) return session.fail(bad);
  // RFC 5321 4.5.3.1.10: the extra recipients get 452 and the client sends them in another transaction.
  if (transaction.recipients.length >= session.options.maxRecipients) {
    return session.send(errorReply('TOO_MANY_RECIPIENTS'));
  }
  const recipient: Recipient = { address, params: params.value };
  const outcome = await session.call('rcptTo', () =>
    session.handlers.rcptTo(session.info, transaction, recipient),
  );
  const reply = outcome.ok ? (outcome.value ?? Replies.RECIPIENT_OK) : outcome.reply;
  if (reply.code < 400) transaction.recipients.push(recipient);
  session.send(reply);
}

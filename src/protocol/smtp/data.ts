import { errorReply } from '../../core/reply.js';
import { DataReader } from './data-reader.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';

/**
 * DATA: 354, the content up to CRLF.CRLF, then the data handler's reply. A message with a bare CR
 * or LF, a NUL, a line over maxDataLine ("500 Line too long", RFC 5321 4.5.3.1.6 and 4.5.3.1.9)
 * or over maxMessageSize is read to its end and refused without reaching the handler.
 */
export async function handleData(session: Session, args: string): Promise<void> {
  const transaction = session.transaction;
  if (transaction === undefined) return session.fail(errorReply('BAD_SEQUENCE', 'Need MAIL command first'));
  if (transaction.recipients.length === 0)
    return session.fail(errorReply('BAD_SEQUENCE', 'No valid recipients'));
  if (args.trim() !== '') return session.fail(errorReply('PARAM_SYNTAX', 'DATA takes no arguments'));
  session.send(Replies.START_DATA);
  const { maxMessageSize, maxDataLine } = session.options;
  const result = await session.readData(new DataReader(maxMessageSize, maxDataLine));
  if (result === undefined) return;
  session.resetTransaction();
  if (!result.ok) {
    const reply = errorReply(result.problem);
    return result.problem === 'MESSAGE_TOO_BIG' ? session.send(reply) : session.fail(reply);
  }
  const outcome = await session.call('data', () =>
    session.handlers.data(session.info, transaction, result.message),
  );
  session.send(outcome.ok ? outcome.value : outcome.reply);
}

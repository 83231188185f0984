import { errorReply } from '../../core/reply.js';
import { DataReader } from './data-reader.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';

/**
 * DATA: 354, the content up to CRLF.CRLF, then the data handler's reply. A message with a bare CR
 * or LF, a NUL, a line over maxDataLine ("500 Line too long", RFC 5321 4.5.3.1.6 and 4.5.3.1.9)
 * or over maxMessageSize is read to its end and refused without reaching the handler; so is one
 * with more than maxHops Received fields, which is going round in a loop (RFC 5321 6.3).
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
  if (receivedFields(result.message, session.options.maxHops + 1) > session.options.maxHops) {
    return session.send(errorReply('TOO_MANY_HOPS'));
  }
  const outcome = await session.call('data', () =>
    session.handlers.data(session.info, transaction, result.message),
  );
  session.send(outcome.ok ? outcome.value : outcome.reply);
}

const RECEIVED = 'received';

/**
 * Received fields in the header section, counted up to `stop`. A field starts a line with its name,
 * any case, then optional blanks and a colon; continuation lines start with a blank and never match.
 */
function receivedFields(message: Buffer, stop: number): number {
  let count = 0;
  for (let line = 0; line < message.length && count < stop; ) {
    const end = message.indexOf(0x0a, line);
    const next = end < 0 ? message.length : end + 1;
    // The empty line ends the header section.
    if (message[line] === 0x0d || message[line] === 0x0a) break;
    if (isReceived(message, line)) count++;
    line = next;
  }
  return count;
}

function isReceived(message: Buffer, at: number): boolean {
  for (let i = 0; i < RECEIVED.length; i++) {
    // ASCII letters: setting 0x20 makes them lower case.
    if (((message[at + i] ?? 0) | 0x20) !== RECEIVED.charCodeAt(i)) return false;
  }
  let colon = at + RECEIVED.length;
  while (message[colon] === 0x20 || message[colon] === 0x09) colon++;
  return message[colon] === 0x3a;
}

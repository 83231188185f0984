// `sendmail -bs`: an SMTP dialogue on standard input and output, for programs that speak SMTP to
// a local sendmail. The protocol layer's Session needs a network socket, so this is a small
// sequential dialogue of its own (pipelined commands work: lines are read and answered in order);
// every message goes into the same submission function as `sendmail` without -bs.
import type { Writable } from 'node:stream';
import { describeError, isOutpostError } from '../core/errors.js';
import { errorReply, formatReply, type Reply, reply } from '../core/reply.js';
import { checkMailbox, parsePathArgument, splitCommand } from '../protocol/smtp/parser.js';

export interface StdioTransaction {
  sender: string;
  recipients: string[];
  /** Dot-unstuffed, CRLF line endings, without the final ".". */
  message: Buffer;
}

export interface StdioSmtpOptions {
  hostname: string;
  input: AsyncIterable<Buffer | string>;
  output: Writable;
  /** Undefined accepts the recipient; a reply refuses it. */
  checkRecipient(address: string): Promise<Reply | undefined>;
  /** Queues one message; the reply is sent as the answer to the final ".". */
  submit(tx: StdioTransaction): Promise<Reply>;
  /** Larger messages are read to the end and refused with 552. */
  maxMessageSize: number;
}

const CRLF = Buffer.from('\r\n');
const OK = reply(250, '2.0.0', 'Ok');

/** Reads lines (without their CRLF or LF) from a byte stream, one at a time, on demand. */
class LineReader {
  private pending = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer | string>;
  private done = false;

  constructor(input: AsyncIterable<Buffer | string>) {
    this.chunks = input[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const end = this.pending.indexOf(0x0a);
      if (end >= 0) {
        const line = this.pending.subarray(0, end > 0 && this.pending[end - 1] === 0x0d ? end - 1 : end);
        this.pending = this.pending.subarray(end + 1);
        return line;
      }
      if (this.done) {
        if (this.pending.length === 0) return undefined;
        const last = this.pending;
        this.pending = Buffer.alloc(0);
        return last;
      }
      const chunk = await this.chunks.next();
      if (chunk.done === true) this.done = true;
      else this.pending = Buffer.concat([this.pending, Buffer.from(chunk.value)]);
    }
  }
}

/** A thrown error as the reply for it: catalogue errors keep their code, anything else is 451. */
export function replyForError(error: unknown): Reply {
  if (isOutpostError(error)) {
    const [code, enhanced] = error.smtp;
    return reply(code, enhanced, error.message);
  }
  return errorReply('QUEUE_UNAVAILABLE', `Temporary local problem: ${describeError(error)}`);
}

/** Runs the dialogue until QUIT or the end of input. */
export async function runStdioSmtp(options: StdioSmtpOptions): Promise<void> {
  const lines = new LineReader(options.input);
  const send = (answer: Reply) => options.output.write(formatReply(answer));
  let tx: { sender: string; recipients: string[] } | undefined;
  let greeted = false;
  send(reply(220, undefined, `${options.hostname} ESMTP outpost sendmail`));
  for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
    const { verb, args } = splitCommand(line.toString('utf8'));
    if (verb === 'QUIT') {
      send(reply(221, '2.0.0', 'Bye'));
      return;
    }
    if (verb === 'EHLO' || verb === 'HELO') {
      greeted = true;
      tx = undefined;
      send(
        verb === 'EHLO'
          ? reply(250, undefined, `${options.hostname}\n8BITMIME\nSMTPUTF8\nPIPELINING\nENHANCEDSTATUSCODES`)
          : reply(250, undefined, options.hostname),
      );
    } else if (verb === 'NOOP') send(OK);
    else if (verb === 'RSET') {
      tx = undefined;
      send(OK);
    } else if (verb === 'VRFY') send(reply(252, '2.5.0', 'Cannot VRFY user, but will accept message'));
    else if (verb === 'MAIL') {
      if (!greeted || tx !== undefined) {
        send(errorReply('BAD_SEQUENCE'));
        continue;
      }
      const path = parsePathArgument(args, 'FROM:');
      if (!path.ok) {
        send(path.reply);
        continue;
      }
      const problem = checkMailbox(path.value.address, {
        allowNull: true,
        allowPostmaster: false,
        smtputf8: true,
      });
      if (problem !== undefined) {
        send(problem);
        continue;
      }
      tx = { sender: path.value.address, recipients: [] };
      send(reply(250, '2.1.0', 'Ok'));
    } else if (verb === 'RCPT') {
      if (tx === undefined) {
        send(errorReply('BAD_SEQUENCE', 'Need MAIL first'));
        continue;
      }
      const path = parsePathArgument(args, 'TO:');
      if (!path.ok) {
        send(path.reply);
        continue;
      }
      const refusal = await options.checkRecipient(path.value.address).catch(replyForError);
      if (refusal !== undefined) send(refusal);
      else {
        tx.recipients.push(path.value.address);
        send(reply(250, '2.1.5', 'Ok'));
      }
    } else if (verb === 'DATA') {
      if (tx === undefined || tx.recipients.length === 0) {
        send(tx === undefined ? errorReply('BAD_SEQUENCE') : reply(554, '5.5.1', 'No valid recipients'));
        continue;
      }
      send(reply(354, undefined, 'End data with <CR><LF>.<CR><LF>'));
      const message = await readMessage(lines, options.maxMessageSize);
      const current = tx;
      tx = undefined;
      if (message === undefined) return;
      if (message === 'too-big') send(errorReply('MESSAGE_TOO_BIG'));
      else send(await options.submit({ ...current, message }).catch(replyForError));
    } else send(errorReply('SYNTAX_ERROR'));
  }
}

/** The message up to the lone "." (dot-unstuffed), 'too-big', or undefined if input ended first. */
async function readMessage(lines: LineReader, maxSize: number): Promise<Buffer | 'too-big' | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
    if (line.length === 1 && line[0] === 0x2e) return size > maxSize ? 'too-big' : Buffer.concat(parts);
    const text = line[0] === 0x2e ? line.subarray(1) : line;
    size += text.length + 2;
    if (size <= maxSize) parts.push(text, CRLF);
  }
  return undefined;
}

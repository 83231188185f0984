import { rfc5322Date } from '../core/time.js';
import { headerValues } from '../dsn/headers.js';

/** Subject and Message-ID of the held message, for the challenge's text and threading. */
export interface HeldSummary {
  subject: string;
  messageId?: string;
}

/** Reads the Subject (as UTF-8, unfolded) and Message-ID from a message's header section. */
export function summarizeHeld(message: Buffer): HeldSummary {
  const subject = headerValues(message, 'subject')[0];
  const messageId = headerValues(message, 'message-id')[0];
  return {
    // headerValues reads latin1 so bytes survive; 8-bit subjects are UTF-8 in practice (RFC 6532).
    subject: subject === undefined ? '' : Buffer.from(subject, 'latin1').toString('utf8'),
    ...(messageId !== undefined && /^<[^<>\s]+>$/.test(messageId) ? { messageId } : {}),
  };
}

/** Everything the challenge text needs. */
export interface ChallengeText {
  /** The user the held message was sent to. */
  user: string;
  /** The envelope sender being asked to confirm. */
  sender: string;
  /** The confirm address: From and Reply-To of the challenge. */
  confirmAddress: string;
  /** The link that releases the message, when the HTTP server is public. */
  confirmUrl?: string;
  held: HeldSummary;
  heldAt: number;
  expiresAt: number;
  /** Our host name, for the Message-ID. */
  hostname: string;
  /** Unique per challenge, for the Message-ID. */
  challengeId: string;
  now: number;
}

/** A header value safe on one line: no CR/LF, and RFC 2047 encoded when not plain ASCII. */
function headerText(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ').trim();
  if (/^[\x20-\x7e]*$/.test(oneLine)) return oneLine;
  return `=?UTF-8?B?${Buffer.from(oneLine, 'utf8').toString('base64')}?=`;
}

/** Folds a long header field at spaces so no line passes 78 characters where that is possible. */
function foldHeader(name: string, value: string): string {
  const words = value.split(' ');
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of words) {
    if (line.length + 1 + word.length > 78 && line.length > name.length + 1) {
      lines.push(line);
      line = '';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join('\r\n');
}

/**
 * The challenge message: an RFC 3834 auto-reply (Auto-Submitted: auto-replied, sent with the null
 * envelope sender by the caller) from the confirm address, explaining how to release the message.
 */
export function buildChallengeMessage(text: ChallengeText): Buffer {
  const subject = text.held.subject === '' ? '(no subject)' : text.held.subject;
  const days = Math.round((text.expiresAt - text.heldAt) / 86_400_000);
  const headers = [
    `From: "Confirmation for ${text.user}" <${text.confirmAddress}>`,
    `Reply-To: <${text.confirmAddress}>`,
    `To: <${text.sender}>`,
    foldHeader('Subject', `Please confirm your message: ${headerText(subject)}`),
    `Date: ${rfc5322Date(text.now)}`,
    `Message-ID: <challenge.${text.challengeId}@${text.hostname}>`,
    ...(text.held.messageId === undefined
      ? []
      : [`In-Reply-To: ${text.held.messageId}`, `References: ${text.held.messageId}`]),
    'Auto-Submitted: auto-replied',
    'X-Auto-Response-Suppress: All',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const confirmWays = text.confirmUrl
    ? ['To confirm, reply to this message, or open this link:', '', `  ${text.confirmUrl}`]
    : ['To confirm, reply to this message (the reply only needs to reach the address it came from).'];
  const body = [
    'Hello,',
    '',
    `You sent a message to ${text.user}, who only accepts mail from correspondents`,
    'they know. Your message is held until you confirm that you sent it.',
    '',
    ...confirmWays,
    '',
    `Once confirmed, your message is delivered, and later messages from ${text.sender}`,
    `to ${text.user} arrive at once.`,
    '',
    `If you did not send it, ignore this message: the held message is discarded after ${days} days.`,
    '',
    `  Subject: ${subject.replace(/[\r\n]+/g, ' ')}`,
    `  Held since: ${rfc5322Date(text.heldAt)}`,
    '',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'utf8');
}

import { isAscii } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../core/time.js';
import { envelopeIdField, foldField, originalRecipientField, recipientField } from './fields.js';
import { type DsnRecipient, isStatusCode, oneLine } from './status.js';
import { type Attachment, notificationText, subjectFor } from './text.js';

/** The message a report is about, as the queue holds it. */
export interface DsnOriginal {
  /** Queue id. */
  id: string;
  /** Envelope sender: the report goes there. Never '' (see dsnSuppressedReason). */
  sender: string;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** When outpost accepted the message (Arrival-Date), ms since the epoch. */
  receivedAt: number;
  /** The header section (with or without the empty line after it). */
  headers: Buffer;
  /** The body; without it only the header can be returned. */
  body?: Buffer;
}

/** Everything a report is made from. */
export interface DsnInput {
  /** Our host name: Reporting-MTA, and the domain of MAILER-DAEMON and the Message-ID. */
  reportingMta: string;
  original: DsnOriginal;
  recipients: readonly DsnRecipient[];
  now: number;
  /** Largest original (header + body, bytes) returned in full; larger ones return the header. 1 MiB by default. */
  returnLimit?: number;
}

/** A report ready to queue: from the null sender to the original sender. */
export interface Dsn {
  from: '';
  to: string;
  message: Buffer;
  /** The report holds 8-bit text (from the original or a UTF-8 address): send it with BODY=8BITMIME. */
  eightBit: boolean;
  /** The recipient address is not ASCII: send it with SMTPUTF8. */
  smtputf8: boolean;
}

/** Default size above which a failure report returns only the original's header. */
export const DEFAULT_RETURN_LIMIT = 1024 * 1024;

const CRLF = '\r\n';

function withoutTrailingLineBreaks(headers: Buffer): Buffer {
  let end = headers.length;
  while (end > 0 && (headers[end - 1] === 0x0a || headers[end - 1] === 0x0d)) end--;
  return headers.subarray(0, end);
}

/** RFC 3464 section 2.2: the fields about the message as a whole. */
function perMessageFields(input: DsnInput): string {
  const { original } = input;
  const fields = [`Reporting-MTA: dns; ${input.reportingMta}`, `X-Outpost-Queue-Id: ${original.id}`];
  if (original.envid !== undefined) fields.push(`Original-Envelope-Id: ${envelopeIdField(original.envid)}`);
  fields.push(`Arrival-Date: ${rfc5322Date(original.receivedAt)}`);
  return fields.join(CRLF);
}

/** RFC 3464 section 2.3: the fields about one recipient. */
function perRecipientFields(recipient: DsnRecipient): string {
  if (!isStatusCode(recipient.status))
    throw new Error(`"${recipient.status}" is not an RFC 3463 status code`);
  const fields: string[] = [];
  const original = recipient.orcpt === undefined ? undefined : originalRecipientField(recipient.orcpt);
  if (original !== undefined) fields.push(`Original-Recipient: ${original}`);
  fields.push(
    `Final-Recipient: ${recipientField('rfc822', recipient.address)}`,
    `Action: ${recipient.action}`,
    `Status: ${recipient.status}`,
  );
  if (recipient.remoteMta !== undefined) fields.push(`Remote-MTA: dns; ${oneLine(recipient.remoteMta)}`);
  if (recipient.diagnostic !== undefined)
    fields.push(foldField('Diagnostic-Code', oneLine(recipient.diagnostic)));
  if (recipient.lastAttempt !== undefined)
    fields.push(`Last-Attempt-Date: ${rfc5322Date(recipient.lastAttempt)}`);
  if (recipient.willRetryUntil !== undefined && recipient.action === 'delayed') {
    fields.push(`Will-Retry-Until: ${rfc5322Date(recipient.willRetryUntil)}`);
  }
  return fields.join(CRLF);
}

/** The third part: the whole message for failures unless RET=HDRS (and small enough), else the header. */
function originalPart(input: DsnInput): { attachment: Attachment; headers: string; content: Buffer } {
  const { original } = input;
  const header = withoutTrailingLineBreaks(original.headers);
  const failed = input.recipients.some((recipient) => recipient.action === 'failed');
  const limit = input.returnLimit ?? DEFAULT_RETURN_LIMIT;
  const wantsFull = failed && original.ret !== 'HDRS' && original.body !== undefined;
  const fits = header.length + (original.body?.length ?? 0) <= limit;
  if (wantsFull && fits && original.body !== undefined) {
    return {
      attachment: 'message',
      headers: `Content-Description: Undelivered message${CRLF}Content-Type: message/rfc822`,
      content: Buffer.concat([header, Buffer.from(CRLF + CRLF), original.body]),
    };
  }
  return {
    attachment: wantsFull ? 'headers-too-large' : 'headers',
    headers: `Content-Description: Message header${CRLF}Content-Type: text/rfc822-headers`,
    content: Buffer.concat([header, Buffer.from(CRLF)]),
  };
}

function newBoundary(parts: readonly Buffer[]): string {
  // 120 random bits make a clash with the content practically impossible; checking costs little.
  for (;;) {
    const boundary = `=_outpost_${randomBytes(15).toString('base64url')}`;
    if (!parts.some((part) => part.includes(boundary))) return boundary;
  }
}

/**
 * A delivery status notification (RFC 3464, multipart/report per RFC 6522): a plain-text
 * explanation, the message/delivery-status part, then the original (message/rfc822) or its header
 * (text/rfc822-headers). From the null sender to the original sender, Auto-Submitted: auto-replied.
 */
export function buildDsn(input: DsnInput): Dsn {
  const { original, recipients } = input;
  if (original.sender === '') throw new Error('a DSN is never sent to the null sender');
  if (recipients.length === 0) throw new Error('a DSN needs at least one recipient');

  const returned = originalPart(input);
  const text = Buffer.from(
    notificationText({
      reportingMta: input.reportingMta,
      queueId: original.id,
      receivedAt: original.receivedAt,
      recipients,
      attachment: returned.attachment,
    }),
    'utf8',
  );
  const report = Buffer.from(
    [perMessageFields(input), ...recipients.map(perRecipientFields)].join(CRLF + CRLF) + CRLF,
    'latin1',
  );
  const textIs8Bit = !isAscii(text);
  const originalIs8Bit = !isAscii(returned.content);
  const boundary = newBoundary([text, report, returned.content]);
  const encoding = (eightBit: boolean): string => `Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}`;

  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${original.sender}>`,
    `Subject: ${subjectFor(recipients)}`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <${input.now}.${original.id}.${randomBytes(6).toString('hex')}@${input.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${boundary}"`,
    encoding(textIs8Bit || originalIs8Bit),
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
  ].join(CRLF);
  const partHead = (lines: string[]): Buffer =>
    Buffer.from(`--${boundary}${CRLF}${lines.join(CRLF)}${CRLF}${CRLF}`);
  const message = Buffer.concat([
    Buffer.from(`${header}${CRLF}`, 'utf8'),
    partHead([
      'Content-Description: Notification',
      `Content-Type: text/plain; charset=${textIs8Bit ? 'utf-8' : 'us-ascii'}`,
      encoding(textIs8Bit),
    ]),
    text,
    Buffer.from(CRLF),
    partHead(['Content-Description: Delivery report', 'Content-Type: message/delivery-status']),
    report,
    Buffer.from(CRLF),
    partHead([returned.headers, encoding(originalIs8Bit)]),
    returned.content,
    Buffer.from(`${CRLF}--${boundary}--${CRLF}`),
  ]);
  return {
    from: '',
    to: original.sender,
    message,
    eightBit: textIs8Bit || originalIs8Bit,
    smtputf8: !isAscii(Buffer.from(original.sender)),
  };
}

// The short message a user finds in their INBOX when something they put in the Outbox was not sent.
import { rfc5322Date } from '../core/time.js';
import { headerEnd } from '../inbound/headers.js';

const CRLF = '\r\n';

/** The Subject: of a message, unfolded, as written (encoded words stay encoded); '' when it has none. */
export function subjectOf(message: Buffer): string {
  const headerBlock = message.subarray(0, headerEnd(message)).toString('latin1');
  const unfolded = headerBlock.replace(/\r?\n[ \t]/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    if (/^subject:/i.test(line)) return line.slice(line.indexOf(':') + 1).trim();
  }
  return '';
}

export interface NoticeText {
  hostname: string;
  /** The user the notice goes to. */
  user: string;
  /** Subject of the message it is about ('' for none). */
  subject: string;
  /** Why the message was not sent, one line. */
  reason: string;
  /** What became of the message: where it is now and what the user can do. */
  outcome: string;
  /** Stable id, so a notice written again after a crash is the same message. */
  id: string;
  now: number;
}

/** A plain-text notice from MAILER-DAEMON, marked as automatic so no one auto-replies to it. */
export function outboxNotice(notice: NoticeText): Buffer {
  const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');
  const subject = notice.subject === '' ? '(no subject)' : oneLine(notice.subject);
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${notice.hostname}>`,
    `To: <${notice.user}>`,
    `Subject: Outbox: not sent: ${subject}`,
    `Date: ${rfc5322Date(notice.now)}`,
    `Message-ID: <outbox.${notice.id}@${notice.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = [
    `Your message "${subject}" in the Outbox folder was not sent:`,
    '',
    `    ${oneLine(notice.reason)}`,
    '',
    notice.outcome,
  ];
  return Buffer.from(`${headers.join(CRLF)}${CRLF}${CRLF}${body.join(CRLF)}${CRLF}`, 'utf8');
}

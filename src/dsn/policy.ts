import type { NotifyOn } from '../protocol/smtp/types.js';
import { headerValues } from './headers.js';
import type { DsnAction } from './status.js';

/** The three events a sender can ask to hear about with NOTIFY (RFC 3461 section 4.1). */
export type DsnEvent = 'failure' | 'delay' | 'success';

const NOTIFY_KEYWORD: Record<DsnEvent, NotifyOn> = { failure: 'FAILURE', delay: 'DELAY', success: 'SUCCESS' };
/** Local parts that mark a mail system's own address rather than a person's. */
const MAILER_DAEMON_LIKE = new Set([
  'mailer-daemon',
  'mailer_daemon',
  'mailerdaemon',
  'postmaster',
  'double-bounce',
]);

/**
 * Whether a recipient asked for a DSN on this event. NOTIFY=NEVER (an empty list): never. No
 * NOTIFY: failures and delays (RFC 3461 section 4.1 leaves delays to the MTA; outpost reports them
 * once, at queue.warn_after, because a sender waiting days for news is worse than one extra
 * message). Otherwise: exactly the events listed.
 */
export function shouldNotify(recipient: { notify?: readonly NotifyOn[] }, event: DsnEvent): boolean {
  if (recipient.notify === undefined) return event !== 'success';
  return recipient.notify.includes(NOTIFY_KEYWORD[event]);
}

/** The NOTIFY event an action reports. */
export function eventOf(action: DsnAction): DsnEvent {
  if (action === 'failed') return 'failure';
  if (action === 'delayed') return 'delay';
  return 'success';
}

function localPart(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase();
}

/** The type/subtype and report-type of a Content-Type value, in lower case. */
function reportTypeOf(contentType: string): string | undefined {
  const [type = ''] = contentType.split(';');
  if (type.trim().toLowerCase() !== 'multipart/report') return undefined;
  const match = /;\s*report-type\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return match?.[1]?.toLowerCase() ?? '';
}

/**
 * Why no DSN may be sent about a message, or undefined when one may. The rules, in order:
 * 1. the envelope sender is the null sender (RFC 5321 section 4.5.5: never answer a bounce);
 * 2. the message is itself a delivery or disposition report (Content-Type multipart/report with
 *    report-type delivery-status, disposition-notification, or none given);
 * 3. the message says Auto-Submitted with any value but "no" AND the sender's local part is a
 *    mail system's (MAILER-DAEMON, postmaster, double-bounce): a machine answering a machine.
 * A person's auto-submitted mail (a vacation reply sent with a real sender) still gets its DSN.
 */
export function dsnSuppressedReason(original: { sender: string; headers: Buffer }): string | undefined {
  if (original.sender === '') return 'the sender is the null sender';
  for (const contentType of headerValues(original.headers, 'content-type')) {
    const reportType = reportTypeOf(contentType);
    if (reportType === '' || reportType === 'delivery-status' || reportType === 'disposition-notification') {
      return 'the message is itself a delivery report';
    }
  }
  if (MAILER_DAEMON_LIKE.has(localPart(original.sender))) {
    const autoSubmitted = headerValues(original.headers, 'auto-submitted').some((value) => {
      const keyword = value.split(/[;(\s]/, 1)[0] ?? '';
      return keyword.toLowerCase() !== 'no';
    });
    if (autoSubmitted) return 'the message is auto-submitted by a mail system';
  }
  return undefined;
}

import { rfc5322Date } from '../core/time.js';
import type { DsnAction, DsnRecipient } from './status.js';

/** How much of the original message the report carries, told to the reader. */
export type Attachment = 'message' | 'headers' | 'headers-too-large';

const ACTION_ORDER: readonly DsnAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

const INTRO: Record<DsnAction, string> = {
  failed:
    'Your message could not be delivered to the recipients below. This is permanent: outpost has given up on them.',
  delayed:
    'Your message has not been delivered yet to the recipients below. outpost keeps trying; you do not need to send it again.',
  delivered: 'Your message was delivered to the recipients below.',
  relayed:
    "Your message was passed on to the recipients' mail systems below, which do not send delivery reports; no further report will follow.",
  expanded: 'Your message was delivered to the addresses below, which forward it to further recipients.',
};

const ATTACHMENT_NOTE: Record<Attachment, string> = {
  message: 'Your message is attached.',
  headers: 'The header of your message is attached.',
  'headers-too-large': 'Your message was too large to return in full; its header is attached.',
};

/** The subject for the most serious action in the report. */
export function subjectFor(recipients: readonly DsnRecipient[]): string {
  if (recipients.some((r) => r.action === 'failed')) return 'Undelivered Mail Returned to Sender';
  if (recipients.some((r) => r.action === 'delayed')) return 'Delayed Mail (still being retried)';
  return 'Successful Mail Delivery Report';
}

function wrap(text: string, width = 72): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function recipientLine(recipient: DsnRecipient): string {
  const reason = recipient.diagnostic?.replace(/^[^;]*;\s*/, '') ?? `status ${recipient.status}`;
  const where = recipient.remoteMta ? ` (from ${recipient.remoteMta})` : '';
  const until =
    recipient.willRetryUntil !== undefined ? `; trying until ${rfc5322Date(recipient.willRetryUntil)}` : '';
  return `<${recipient.address}>: ${reason}${where}${until}`;
}

/** The human-readable first part of a DSN: what happened, per recipient, in plain words. */
export function notificationText(input: {
  reportingMta: string;
  queueId: string;
  receivedAt: number;
  recipients: readonly DsnRecipient[];
  attachment: Attachment;
}): string {
  const lines = [
    `This is the mail system at ${input.reportingMta}.`,
    '',
    ...wrap(`It accepted your message on ${rfc5322Date(input.receivedAt)} (queue id ${input.queueId}).`),
  ];
  for (const action of ACTION_ORDER) {
    const group = input.recipients.filter((recipient) => recipient.action === action);
    if (group.length === 0) continue;
    lines.push('', ...wrap(INTRO[action]), '');
    for (const recipient of group) lines.push(...wrap(recipientLine(recipient)).map((line) => `  ${line}`));
  }
  lines.push('', ATTACHMENT_NOTE[input.attachment], '');
  return lines.join('\r\n');
}

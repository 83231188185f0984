import type { RecipientRow } from '../queue/store/types.js';

/** What happened to one recipient (RFC 3464 section 2.3.3). */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/** A recipient's status code (RFC 3463) and, when there is one, its Diagnostic-Code value. */
export interface RecipientStatusCode {
  status: string;
  diagnostic?: string;
}

const REPLY = /^([2-5])\d\d(?:[ -]|$)(?:([245]\.\d{1,3}\.\d{1,3})(?:\s|$))?/;
const STATUS = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** Status class when nothing better is known: RFC 3463 "other undefined status" of each class. */
const DEFAULT_STATUS: Record<DsnAction, string> = {
  failed: '5.0.0',
  delayed: '4.0.0',
  delivered: '2.0.0',
  relayed: '2.0.0',
  expanded: '2.0.0',
};
/** RFC 3463 4.4.7: the message stayed in the queue too long. */
const EXPIRED_STATUS = '4.4.7';

/** True for an RFC 3463 status code such as "5.1.1". */
export function isStatusCode(text: string): boolean {
  return STATUS.test(text);
}

/** A reply on one line, printable ASCII only: what a delivery-status field can carry. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
    .replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Status and Diagnostic-Code from the last reply a recipient got. "550 5.1.1 no such user" gives
 * 5.1.1 and "smtp; 550 5.1.1 no such user"; a reply without an enhanced code gives the class of
 * its basic code (5.0.0, 4.0.0); a local error that is no SMTP reply gives the class of the action
 * and an "X-Outpost;" diagnostic; no reply at all gives just the class of the action.
 */
export function statusFromReply(reply: string | undefined, action: DsnAction): RecipientStatusCode {
  const text = reply === undefined ? '' : oneLine(reply);
  if (text === '') return { status: DEFAULT_STATUS[action] };
  const match = REPLY.exec(text);
  if (!match) return { status: DEFAULT_STATUS[action], diagnostic: `X-Outpost; ${text}` };
  // The basic code decides the class (RFC 3463 section 2: they must agree; the basic code is what
  // every SMTP client acts on).
  const detail = match[2] === undefined ? '.0.0' : match[2].slice(1);
  return { status: `${match[1]}${detail}`, diagnostic: `smtp; ${text}` };
}

/** Facts about the attempt that the queue row does not hold. */
export interface AttemptFacts {
  /** The host that answered, e.g. "mx.example.net". */
  remoteMta?: string;
  /** For delays: when outpost gives up (retry life start + queue.max_age). */
  willRetryUntil?: number;
}

/** Per-recipient report fields (see buildDsn) for one queue row. */
export interface DsnRecipient {
  /** The envelope recipient the report is about (Final-Recipient). */
  address: string;
  /** The ORCPT as stored: "<address-type>;<address>", xtext already decoded. */
  orcpt?: string;
  action: DsnAction;
  /** RFC 3463 code, e.g. "5.1.1". */
  status: string;
  /** "<diagnostic-type>; <text>", e.g. "smtp; 550 5.1.1 no such user". */
  diagnostic?: string;
  remoteMta?: string;
  /** Time of the last delivery attempt, ms since the epoch. */
  lastAttempt?: number;
  willRetryUntil?: number;
}

/** Turns a queue row into a report entry: status and diagnostic from its last reply. */
export function dsnRecipientFromRow(
  row: RecipientRow,
  action: DsnAction,
  facts: AttemptFacts = {},
): DsnRecipient {
  const expiredUntried = row.status === 'expired' && !row.lastReply;
  const code = expiredUntried
    ? { status: EXPIRED_STATUS, diagnostic: 'X-Outpost; delivery time expired' }
    : statusFromReply(row.lastReply, action);
  const recipient: DsnRecipient = { address: row.address, action, ...code };
  if (row.orcpt !== undefined) recipient.orcpt = row.orcpt;
  if (row.attempts > 0) recipient.lastAttempt = row.updatedAt;
  if (facts.remoteMta !== undefined) recipient.remoteMta = facts.remoteMta;
  if (facts.willRetryUntil !== undefined && action === 'delayed')
    recipient.willRetryUntil = facts.willRetryUntil;
  return recipient;
}

// Delivery status notifications (RFC 3461/3464) from delivery outcomes: which recipients are
// reported, grouped into one notice per message and kind, ready to be queued with the outcomes.
import { buildDsn, type DsnOriginal } from '../dsn/build.js';
import { type DsnEvent, dsnSuppressedReason, shouldNotify } from '../dsn/policy.js';
import { type DsnAction, type DsnRecipient, dsnRecipientFromRow } from '../dsn/status.js';
import { newQueueId } from './ids.js';
import { retryLifeStart } from './retry.js';
import type { DeliveryOutcome, LeasedRecipient, NewMessage, RecipientRow } from './store/types.js';

/** Where a queued message to this address goes: target 'maildir' for our domains, else 'smtp'. */
export type RouteRecipient = (address: string) => { target: string; address: string };

export interface NoticeOptions {
  /** Our host name: Reporting-MTA, and the domain of MAILER-DAEMON. */
  reportingMta: string;
  routeRecipient: RouteRecipient;
  /** Age (from its retry life's start) after which a recipient still retried gets one delay notice (queue.warn_after). */
  warnAfterMs: number;
  /** Largest original returned in full in a failure notice (default: buildDsn's 1 MiB). */
  returnLimit?: number;
}

/** One recipient after an attempt: its leased row, the outcome to record, and facts from the target. */
export interface SettledRecipient {
  rcpt: LeasedRecipient;
  outcome: DeliveryOutcome;
  /** Handed to a next hop that does not support DSN: its success is reported as "relayed". */
  relayed: boolean;
  /** Handed to a next hop that offers DSN with NOTIFY passed on: the success notice is its to send (RFC 3461 4.1). */
  passedOn?: boolean;
  /** The remote host whose reply settled it (Remote-MTA). */
  remoteMta?: string;
}

/** The queued message a notice is about. */
export interface NoticeOriginal {
  id: string;
  sender: string;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  receivedAt: number;
  /** The message as queued: header section, empty line, body. */
  message: Buffer;
}

/** Kinds of notice, in the order they are queued; each is one NOTIFY event. */
const KINDS: readonly DsnEvent[] = ['failure', 'delay', 'success'];

/** What an outcome reports, or undefined when it reports nothing (yet). */
function actionFor(settled: SettledRecipient, now: number, warnAfterMs: number): DsnAction | undefined {
  const { rcpt, outcome } = settled;
  switch (outcome.status) {
    case 'failed':
    case 'expired':
      return 'failed';
    case 'delivered':
      if (settled.passedOn) return undefined;
      return settled.relayed ? 'relayed' : 'delivered';
    case 'deferred': {
      // Same clock as expiry: a recipient released after a long hold is not "delayed" at once.
      const due = now - retryLifeStart(rcpt) >= warnAfterMs;
      return due && rcpt.delayNotifiedAt === undefined ? 'delayed' : undefined;
    }
  }
}

const EVENT_OF: Record<DsnAction, DsnEvent> = {
  failed: 'failure',
  delayed: 'delay',
  delivered: 'success',
  relayed: 'success',
  expanded: 'success',
};

/** The queue row as it is once the outcome is recorded: what the report's fields come from. */
function rowAfter(settled: SettledRecipient, now: number): RecipientRow {
  const { rcpt, outcome } = settled;
  return {
    ...rcpt,
    status: outcome.status,
    lastReply: outcome.reply,
    attempts: rcpt.attempts + 1,
    updatedAt: now,
  };
}

/** A recipient to report and what the report says happened to it. */
interface Reported {
  entry: SettledRecipient;
  action: DsnAction;
}

/** Recipients to report, by kind, keeping only the events each recipient asked for with NOTIFY. */
export function reportable(
  settled: readonly SettledRecipient[],
  now: number,
  warnAfterMs: number,
): Map<DsnEvent, Reported[]> {
  const byKind = new Map<DsnEvent, Reported[]>();
  for (const entry of settled) {
    const action = actionFor(entry, now, warnAfterMs);
    if (action === undefined) continue;
    const event = EVENT_OF[action];
    if (!shouldNotify(entry.rcpt, event)) continue;
    byKind.set(event, [...(byKind.get(event) ?? []), { entry, action }]);
  }
  return byKind;
}

/** The header section of a queued message (up to and including the empty line) and its body. */
export function splitMessage(message: Buffer): { headers: Buffer; body: Buffer } {
  const end = message.indexOf('\r\n\r\n');
  if (end < 0) return { headers: message, body: Buffer.alloc(0) };
  return { headers: message.subarray(0, end + 4), body: message.subarray(end + 4) };
}

/** A DSN ready to queue (from the null sender, to the original sender) and what kind it is. */
export interface Notice {
  kind: DsnEvent;
  message: NewMessage;
}

export interface NoticePlan {
  /** DSNs to enqueue together with the outcomes. */
  notices: Notice[];
  /** Recipients whose delay notice is among them: their outcome must carry delayNotified. */
  delayNotified: Set<number>;
  /** Why nothing may be sent about this message, when that is the case and something was due. */
  suppressed?: string;
}

/**
 * The notices an attempt's outcomes call for: one per kind (failure, delay, success) grouping the
 * recipients that asked for it. None when the message may not be answered (null sender, itself a
 * report, a mail system's auto-submitted mail): that is what keeps notices from looping.
 */
export function planNotices(
  original: NoticeOriginal,
  settled: readonly SettledRecipient[],
  context: NoticeOptions & { now: number; maxAgeMs: number },
): NoticePlan {
  const byKind = reportable(settled, context.now, context.warnAfterMs);
  const plan: NoticePlan = { notices: [], delayNotified: new Set() };
  if (byKind.size === 0) return plan;
  const { headers, body } = splitMessage(original.message);
  const suppressed = dsnSuppressedReason({ sender: original.sender, headers });
  if (suppressed !== undefined) return { ...plan, suppressed };
  const dsnOriginal: DsnOriginal = {
    id: original.id,
    sender: original.sender,
    receivedAt: original.receivedAt,
    headers,
    body,
    ...(original.envid === undefined ? {} : { envid: original.envid }),
    ...(original.ret === undefined ? {} : { ret: original.ret }),
  };
  const route = context.routeRecipient(original.sender);
  for (const kind of KINDS) {
    const group = byKind.get(kind);
    if (group === undefined) continue;
    const recipients: DsnRecipient[] = group.map(({ entry, action }) =>
      dsnRecipientFromRow(rowAfter(entry, context.now), action, {
        willRetryUntil: retryLifeStart(entry.rcpt) + context.maxAgeMs,
        ...(entry.remoteMta === undefined ? {} : { remoteMta: entry.remoteMta }),
      }),
    );
    const dsn = buildDsn({
      reportingMta: context.reportingMta,
      original: dsnOriginal,
      recipients,
      now: context.now,
      ...(context.returnLimit === undefined ? {} : { returnLimit: context.returnLimit }),
    });
    const message: NewMessage = {
      id: newQueueId(),
      sender: '',
      body: dsn.message,
      receivedAt: context.now,
      meta: {
        dsn: kind,
        about: original.id,
        ...(dsn.eightBit ? { eightBit: true } : {}),
        ...(dsn.smtputf8 ? { smtputf8: true } : {}),
      },
      // NOTIFY=NEVER: a notice is never reported on (and its sender is the null sender anyway).
      recipients: [{ address: route.address, target: route.target, notify: [] }],
    };
    plan.notices.push({ kind, message });
    if (kind === 'delay') for (const { entry } of group) plan.delayNotified.add(entry.rcpt.rcptIndex);
  }
  return plan;
}

// One delivery attempt of one message: load the body once, run each target's two phases for its
// recipients, turn the targets' results into queue outcomes (retry schedule, expiry), record them.
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { errorReply, type Reply } from '../core/reply.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../delivery/types.js';
import type { DeliveryMetrics } from '../metrics/registry.js';
import {
  type Notice,
  type NoticeOptions,
  planNotices,
  reportable,
  type SettledRecipient,
} from './notices.js';
import { nextAttempt, type RetryPolicy, retryLifeStart } from './retry.js';
import type { DeliveryOutcome, LeasedRecipient, NewMessage, Store } from './store/types.js';

/** Leased recipients of one message, delivered together. */
export interface MessageWork {
  messageId: string;
  sender: string;
  receivedAt: number;
  recipients: LeasedRecipient[];
}

export interface DeliverDeps {
  store: Store;
  targets: Record<string, DeliveryTarget>;
  retry: RetryPolicy;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  clock: () => number;
  /** Pause between tries to record outcomes when the store refuses (e.g. disk full). */
  retryDelayMs: number;
  /** DSN generation; without it no notices are sent. */
  notices?: NoticeOptions;
  metrics?: DeliveryMetrics;
}

// Recording outcomes is retried a few times: after a delivery, failing to record it means the
// lease runs out and the delivery is repeated (idempotent for Maildir, a duplicate for SMTP).
const COMPLETE_TRIES = 3;

/** The one-line form a reply is stored in (last_reply) and logged with. */
export function replyLine(answer: Reply): string {
  const text = answer.text.replace(/\r?\n/g, ' ');
  return answer.enhanced === undefined
    ? `${answer.code} ${text}`
    : `${answer.code} ${answer.enhanced} ${text}`;
}

function deferAll(recipients: LeasedRecipient[], answer: Reply): RecipientResult[] {
  return recipients.map((rcpt) => ({ rcptIndex: rcpt.rcptIndex, status: 'deferred', reply: answer }));
}

/** Runs prepare and commit; a target that throws defers its recipients rather than losing them. */
async function runTarget(target: DeliveryTarget, batch: DeliveryBatch): Promise<RecipientResult[]> {
  let prepared: Awaited<ReturnType<DeliveryTarget['prepare']>>;
  try {
    prepared = await target.prepare(batch);
  } catch (error) {
    return deferAll(
      batch.recipients,
      errorReply('QUEUE_UNAVAILABLE', `Delivery failed: ${describeError(error)}`),
    );
  }
  try {
    return [...prepared.results, ...(await prepared.commit())];
  } catch (error) {
    await prepared.abort().catch(() => undefined);
    const answer = errorReply('QUEUE_UNAVAILABLE', `Delivery failed: ${describeError(error)}`);
    const settled = new Set(prepared.results.map((r) => r.rcptIndex));
    return [
      ...prepared.results,
      ...deferAll(
        batch.recipients.filter((r) => !settled.has(r.rcptIndex)),
        answer,
      ),
    ];
  }
}

/** Every recipient gets exactly one result: missing ones are deferred, strays and repeats ignored. */
function oneResultEach(
  recipients: LeasedRecipient[],
  results: RecipientResult[],
): Array<[LeasedRecipient, RecipientResult]> {
  const byIndex = new Map<number, RecipientResult>();
  for (const result of results) if (!byIndex.has(result.rcptIndex)) byIndex.set(result.rcptIndex, result);
  const missing = errorReply('QUEUE_UNAVAILABLE', 'Delivery target reported no result');
  return recipients.map((rcpt) => [
    rcpt,
    byIndex.get(rcpt.rcptIndex) ?? { rcptIndex: rcpt.rcptIndex, status: 'deferred', reply: missing },
  ]);
}

async function deliverToTarget(
  work: MessageWork,
  name: string,
  recipients: LeasedRecipient[],
  body: Buffer | Reply,
  deps: DeliverDeps,
): Promise<RecipientResult[]> {
  if (!Buffer.isBuffer(body)) return deferAll(recipients, body);
  const target = deps.targets[name];
  if (target === undefined) {
    deps.logger.error({ queueId: work.messageId, target: name }, 'unknown delivery target');
    return deferAll(recipients, errorReply('CONFIG_INVALID', `Unknown delivery target ${name}`));
  }
  const { envid, ret } = recipients[0] ?? {};
  const batch: DeliveryBatch = {
    messageId: work.messageId,
    sender: work.sender,
    receivedAt: work.receivedAt,
    body,
    recipients,
    ...(envid === undefined ? {} : { envid }),
    ...(ret === undefined ? {} : { ret }),
  };
  const started = deps.clock();
  const results = await runTarget(target, batch);
  deps.metrics?.deliveryDuration(name, (deps.clock() - started) / 1000);
  return results;
}

function toOutcome(
  rcpt: LeasedRecipient,
  result: RecipientResult,
  retry: RetryPolicy,
  now: number,
): DeliveryOutcome {
  const base = { messageId: rcpt.messageId, rcptIndex: rcpt.rcptIndex, reply: replyLine(result.reply) };
  if (result.status !== 'deferred') return { ...base, status: result.status };
  // Counted from the retry life's start, not reception: mail held for a challenge or by an
  // operator gets its full max_age after release.
  const next = nextAttempt(rcpt.attempts + 1, retryLifeStart(rcpt), now, retry);
  return 'expired' in next
    ? { ...base, status: 'expired' }
    : { ...base, status: 'deferred', nextAttemptAt: next.at };
}

async function loadBody(work: MessageWork, deps: DeliverDeps): Promise<Buffer | Reply | undefined> {
  try {
    return await deps.store.body(work.messageId);
  } catch (error) {
    deps.logger.error({ queueId: work.messageId, err: describeError(error) }, 'cannot read queued message');
    return errorReply('QUEUE_UNAVAILABLE', 'Cannot read queued message');
  }
}

/** Records outcomes and their notices in one write; true once durable. */
async function record(
  work: MessageWork,
  outcomes: DeliveryOutcome[],
  notices: NewMessage[],
  deps: DeliverDeps,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.store.complete(outcomes, notices);
      return true;
    } catch (error) {
      const fields = { queueId: work.messageId, err: describeError(error), attempt };
      if (attempt >= COMPLETE_TRIES) {
        deps.logger.error(
          fields,
          'delivery outcomes not recorded; the lease will expire and delivery repeat',
        );
        return false;
      }
      deps.logger.warn(fields, 'recording delivery outcomes failed, retrying');
      await new Promise((resolve) => setTimeout(resolve, deps.retryDelayMs));
    }
  }
}

/** One delivery attempt for the leased recipients of one message. Never throws. */
export async function deliverMessage(work: MessageWork, deps: DeliverDeps): Promise<void> {
  const body = await loadBody(work, deps);
  if (body === undefined) {
    // Removed by an operator since the lease: nothing left to deliver or record.
    deps.logger.info({ queueId: work.messageId }, 'message gone before delivery');
    return;
  }
  const byTarget = new Map<string, LeasedRecipient[]>();
  for (const rcpt of work.recipients) byTarget.set(rcpt.target, [...(byTarget.get(rcpt.target) ?? []), rcpt]);
  const started = deps.clock();
  const settled = await Promise.all(
    [...byTarget].map(async ([name, recipients]) =>
      oneResultEach(recipients, await deliverToTarget(work, name, recipients, body, deps)),
    ),
  );
  const now = deps.clock();
  const outcomes: SettledRecipient[] = [];
  for (const [rcpt, result] of settled.flat()) {
    const outcome = toOutcome(rcpt, result, deps.retry, now);
    outcomes.push({
      rcpt,
      outcome,
      relayed: result.relayed === true,
      ...(result.passedOn === true ? { passedOn: true } : {}),
      ...(result.remoteMta === undefined ? {} : { remoteMta: result.remoteMta }),
    });
    deps.metrics?.delivery(rcpt.target, outcome.status);
    const fields = {
      queueId: work.messageId,
      rcpt: rcpt.address,
      rcptIndex: rcpt.rcptIndex,
      target: rcpt.target,
      status: outcome.status,
      reply: outcome.reply,
      attempts: rcpt.attempts + 1,
      delayMs: now - work.receivedAt,
      durationMs: now - started,
      ...(outcome.status === 'deferred' ? { nextAttemptAt: outcome.nextAttemptAt } : {}),
    };
    if (outcome.status === 'delivered' || outcome.status === 'deferred') deps.logger.info(fields, 'delivery');
    else deps.logger.warn(fields, 'delivery');
  }
  const notices = deps.notices ? await noticesFor(work, body, outcomes, deps.notices, deps, now) : [];
  const recorded = await record(
    work,
    outcomes.map(({ outcome }) => outcome),
    notices.map(({ message }) => message),
    deps,
  );
  if (recorded) logNotices(work, notices, deps);
}

/**
 * The DSNs these outcomes call for; marks the outcomes whose delay notice is among them. They are
 * recorded in the same write as the outcomes (Store.complete), so a crash either keeps both or
 * neither: the notice is never lost (no outcome without it) and never sent twice (a repeated
 * attempt after a crash finds no notice from the first one).
 */
async function noticesFor(
  work: MessageWork,
  body: Buffer | Reply,
  settled: SettledRecipient[],
  options: NoticeOptions,
  deps: DeliverDeps,
  now: number,
): Promise<Notice[]> {
  if (!Buffer.isBuffer(body) || reportable(settled, now, options.warnAfterMs).size === 0) return [];
  const row = await deps.store.message(work.messageId).catch((error: unknown) => {
    // ENVID and RET are lost from this one notice; the notice itself is not.
    deps.logger.warn({ queueId: work.messageId, err: describeError(error) }, 'cannot read envelope for DSN');
    return { envid: undefined, ret: undefined };
  });
  if (row === undefined) return []; // removed by an operator meanwhile
  const plan = planNotices(
    {
      id: work.messageId,
      sender: work.sender,
      receivedAt: work.receivedAt,
      message: body,
      ...(row.envid === undefined ? {} : { envid: row.envid }),
      ...(row.ret === undefined ? {} : { ret: row.ret }),
    },
    settled,
    { ...options, now, maxAgeMs: deps.retry.maxAgeMs },
  );
  if (plan.suppressed !== undefined) {
    deps.logger.info({ queueId: work.messageId, reason: plan.suppressed }, 'no DSN');
  }
  for (const { outcome } of settled) {
    if (outcome.status === 'deferred' && plan.delayNotified.has(outcome.rcptIndex))
      outcome.delayNotified = true;
  }
  return plan.notices;
}

function logNotices(work: MessageWork, notices: Notice[], deps: DeliverDeps): void {
  for (const { kind, message } of notices) {
    deps.logger.info({ queueId: message.id, about: work.messageId, kind, to: work.sender }, 'DSN queued');
    deps.metrics?.notice(kind);
  }
}

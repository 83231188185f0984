// One delivery attempt of one message: load the body once, run each target's two phases for its
// recipients, turn the targets' results into queue outcomes (retry schedule, expiry), record them.
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { errorReply, type Reply } from '../core/reply.js';
import type { DeliveryBatch, DeliveryTarget, RecipientResult } from '../delivery/types.js';
import { nextAttempt, type RetryPolicy } from './retry.js';
import type { DeliveryOutcome, LeasedRecipient, Store } from './store/types.js';

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
  const batch = {
    messageId: work.messageId,
    sender: work.sender,
    receivedAt: work.receivedAt,
    body,
    recipients,
  };
  return runTarget(target, batch);
}

function toOutcome(
  rcpt: LeasedRecipient,
  result: RecipientResult,
  retry: RetryPolicy,
  now: number,
): DeliveryOutcome {
  const base = { messageId: rcpt.messageId, rcptIndex: rcpt.rcptIndex, reply: replyLine(result.reply) };
  if (result.status !== 'deferred') return { ...base, status: result.status };
  const next = nextAttempt(rcpt.attempts + 1, rcpt.receivedAt, now, retry);
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

async function record(work: MessageWork, outcomes: DeliveryOutcome[], deps: DeliverDeps): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.store.complete(outcomes);
      return;
    } catch (error) {
      const fields = { queueId: work.messageId, err: describeError(error), attempt };
      if (attempt >= COMPLETE_TRIES) {
        deps.logger.error(
          fields,
          'delivery outcomes not recorded; the lease will expire and delivery repeat',
        );
        return;
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
  const outcomes: DeliveryOutcome[] = [];
  for (const [rcpt, result] of settled.flat()) {
    const outcome = toOutcome(rcpt, result, deps.retry, now);
    outcomes.push(outcome);
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
  await record(work, outcomes, deps);
}

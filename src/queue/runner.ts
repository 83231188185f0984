// The delivery scheduler: leases due recipients, hands each message to its targets once, records
// the outcomes. Crash-safe by construction: work is only ever held under a lease, and a lease that
// runs out makes the rows due again.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { DeliveryTarget } from '../delivery/types.js';
import type { DeliveryMetrics } from '../metrics/registry.js';
import { deliverMessage, type MessageWork } from './deliver.js';
import type { NoticeOptions } from './notices.js';
import { defaultRetryPolicy, type RetryPolicy } from './retry.js';
import type { LeasedRecipient, Store } from './store/types.js';

export interface QueueRunnerOptions {
  store: Store;
  /** Delivery targets by the name recipients carry in the queue ('maildir', 'smtp', ...). */
  targets: Record<string, DeliveryTarget>;
  /** Messages delivered at the same time. */
  concurrency: number;
  /** How long a lease lasts; a delivery must finish well within it (half is the safety margin). */
  leaseMs: number;
  /** How often to look for due work when nobody kicks. */
  pollMs: number;
  retry?: RetryPolicy;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  clock?: () => number;
  /** Lease owner name; default host/pid/random. */
  owner?: string;
  /** DSN generation (failure, delay, success, relayed notices); without it the runner sends none. */
  notices?: NoticeOptions;
  /** Deliveries by target and result, attempt durations, notices queued. */
  metrics?: DeliveryMetrics;
}

// Rows leased per free slot: enough to keep a multi-recipient message together, few enough that
// leased work never waits long in memory.
const ROWS_PER_SLOT = 4;

/** Runs deliveries from the queue until stopped. */
export class QueueRunner {
  private readonly clock: () => number;
  private readonly owner: string;
  private readonly retry: RetryPolicy;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  /** Someone asked for a scan that has not happened yet (the runner was busy or full). */
  private wanted = false;
  /** The last lease came back full: more is probably due right now. */
  private moreDue = false;
  private readonly backlog: MessageWork[] = [];
  private readonly active = new Set<Promise<void>>();
  /** messageId:rcptIndex of everything leased and not yet reported, to never deliver a row twice at once. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly options: QueueRunnerOptions) {
    this.clock = options.clock ?? Date.now;
    this.owner = options.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.retry = options.retry ?? defaultRetryPolicy;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  /** Looks for due work now (after an enqueue, so local delivery is immediate). */
  kick(): void {
    if (!this.running) return;
    this.wanted = true;
    if (this.scanning !== undefined) return;
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
      this.schedule();
    });
  }

  /** Stops leasing new work and resolves once every leased delivery has finished and been recorded. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      const pending = this.scanning === undefined ? [...this.active] : [this.scanning, ...this.active];
      if (pending.length === 0) return;
      await Promise.race(pending);
    }
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.options.pollMs);
    this.timer.unref();
  }

  private async scan(): Promise<void> {
    do {
      const free = this.options.concurrency - this.active.size - this.backlog.length;
      // Full: `wanted` stays set and the next finished delivery scans again.
      if (free <= 0) return;
      this.wanted = false;
      const limit = free * ROWS_PER_SLOT;
      let leased: LeasedRecipient[];
      try {
        leased = await this.options.store.lease({
          now: this.clock(),
          limit,
          leaseMs: this.options.leaseMs,
          owner: this.owner,
        });
      } catch (error) {
        this.options.logger.error({ err: describeError(error) }, 'queue lease failed');
        return;
      }
      this.moreDue = leased.length === limit;
      this.backlog.push(...this.group(leased));
      this.pump();
    } while ((this.wanted || this.moreDue) && this.running);
  }

  /** Groups leased rows by message, skipping rows this runner is already delivering. */
  private group(leased: LeasedRecipient[]): MessageWork[] {
    const byMessage = new Map<string, MessageWork>();
    for (const rcpt of leased) {
      const key = `${rcpt.messageId}:${rcpt.rcptIndex}`;
      if (this.inFlight.has(key)) continue;
      this.inFlight.add(key);
      const work = byMessage.get(rcpt.messageId);
      if (work === undefined) {
        byMessage.set(rcpt.messageId, {
          messageId: rcpt.messageId,
          sender: rcpt.sender,
          receivedAt: rcpt.receivedAt,
          recipients: [rcpt],
        });
      } else {
        work.recipients.push(rcpt);
      }
    }
    return [...byMessage.values()];
  }

  private pump(): void {
    while (this.active.size < this.options.concurrency) {
      const work = this.backlog.shift();
      if (work === undefined) break;
      const job = this.run(work).finally(() => {
        this.active.delete(job);
        for (const rcpt of work.recipients) this.inFlight.delete(`${rcpt.messageId}:${rcpt.rcptIndex}`);
        this.pump();
        if ((this.wanted || this.moreDue) && this.backlog.length === 0) this.kick();
      });
      this.active.add(job);
    }
  }

  private async run(work: MessageWork): Promise<void> {
    // Work that waited so long its lease is half gone is dropped: the lease runs out and the rows
    // come back, rather than risk delivering past the lease while another worker has them.
    const now = this.clock();
    const leaseUntil = Math.min(...work.recipients.map((r) => r.leaseUntil));
    if (leaseUntil - now < this.options.leaseMs / 2) return;
    try {
      await deliverMessage(work, {
        store: this.options.store,
        targets: this.options.targets,
        retry: this.retry,
        logger: this.options.logger,
        clock: this.clock,
        retryDelayMs: Math.min(this.options.pollMs, 1000),
        ...(this.options.notices === undefined ? {} : { notices: this.options.notices }),
        ...(this.options.metrics === undefined ? {} : { metrics: this.options.metrics }),
      });
    } catch (error) {
      // deliverMessage reports its own failures; this is the last line against an unexpected throw.
      this.options.logger.error({ queueId: work.messageId, err: describeError(error) }, 'delivery crashed');
    }
  }
}

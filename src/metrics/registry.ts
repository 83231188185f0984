// Prometheus metrics (prom-client): one registry per running outpost, small recording functions
// the inbound side and the queue runner call, and the queue depth read from the store on scrape.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type QueueStats, RECIPIENT_STATUSES } from '../queue/store/types.js';

/** What the queue runner records. */
export interface DeliveryMetrics {
  /** One recipient's attempt ended with this queue status (delivered, deferred, failed, expired). */
  delivery(target: string, result: string): void;
  /** One target's attempt (prepare and commit) for one message took this long. */
  deliveryDuration(target: string, seconds: number): void;
  /** A DSN of this kind (failure, delay, success) was queued. */
  notice(kind: string): void;
}

/** What the SMTP side records. `reason` must come from a small fixed set (error code, check name). */
export interface InboundMetrics {
  accepted(listener: string): void;
  rejected(listener: string, reason: string): void;
  /** From the end of DATA to our reply (checks, queueing, group commit). */
  dataToReply(seconds: number): void;
  /** One trust-list lookup: result is the check's (pass, fail, none, temperror, ...). */
  rttlLookup(list: string, result: string): void;
}

export interface Metrics extends DeliveryMetrics, InboundMetrics {
  readonly registry: Registry;
  /** The exposition format's Content-Type: text/plain; version=0.0.4. */
  readonly contentType: string;
  /** Every metric in the text exposition format (reads the queue depth). */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /** Source of queue_depth; read on every scrape. */
  queue?: { stats(): Promise<QueueStats> };
  /** Also export Node process metrics (CPU, memory, event loop lag, ...). Default true. */
  processMetrics?: boolean;
}

/** Every metric name starts with this, as Prometheus naming asks of an application. */
export const METRIC_PREFIX = 'outpost_';

// Local deliveries take milliseconds, remote ones up to minutes (slow servers, tarpits).
const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// The reply after DATA waits for checks and one group commit: milliseconds, seconds with DNS checks.
const REPLY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A fresh registry with outpost's metrics. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const accepted = new Counter({
    name: `${METRIC_PREFIX}messages_accepted_total`,
    help: 'Messages accepted and queued, by listener',
    labelNames: ['listener'],
    registers,
  });
  const rejected = new Counter({
    name: `${METRIC_PREFIX}messages_rejected_total`,
    help: 'Messages or transactions refused, by listener and reason',
    labelNames: ['listener', 'reason'],
    registers,
  });
  const deliveries = new Counter({
    name: `${METRIC_PREFIX}deliveries_total`,
    help: 'Delivery attempts per recipient, by target and result',
    labelNames: ['target', 'result'],
    registers,
  });
  const deliverySeconds = new Histogram({
    name: `${METRIC_PREFIX}delivery_seconds`,
    help: 'Duration of one delivery attempt of one message through one target',
    labelNames: ['target'],
    buckets: DELIVERY_BUCKETS,
    registers,
  });
  const dataToReply = new Histogram({
    name: `${METRIC_PREFIX}smtp_data_to_reply_seconds`,
    help: 'Time from the end of DATA to the reply',
    buckets: REPLY_BUCKETS,
    registers,
  });
  const notices = new Counter({
    name: `${METRIC_PREFIX}dsn_total`,
    help: 'Delivery status notifications queued, by kind',
    labelNames: ['kind'],
    registers,
  });
  const rttl = new Counter({
    name: `${METRIC_PREFIX}rttl_lookups_total`,
    help: 'Real-Time Trust List lookups, by list and result',
    labelNames: ['list', 'result'],
    registers,
  });
  const queue = options.queue;
  if (queue !== undefined) {
    new Gauge({
      name: `${METRIC_PREFIX}queue_depth`,
      help: 'Recipients in the queue, by status',
      labelNames: ['status'],
      registers,
      async collect() {
        // A store that cannot answer leaves the gauge empty rather than failing the whole scrape.
        const stats = await queue.stats().catch(() => undefined);
        this.reset();
        if (stats === undefined) return;
        for (const status of RECIPIENT_STATUSES) this.set({ status }, stats.byStatus[status] ?? 0);
      },
    });
  }
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    accepted: (listener) => accepted.inc({ listener }),
    rejected: (listener, reason) => rejected.inc({ listener, reason }),
    dataToReply: (seconds) => dataToReply.observe(seconds),
    rttlLookup: (list, result) => rttl.inc({ list, result }),
    delivery: (target, result) => deliveries.inc({ target, result }),
    deliveryDuration: (target, seconds) => deliverySeconds.observe({ target }, seconds),
    notice: (kind) => notices.inc({ kind }),
  };
}

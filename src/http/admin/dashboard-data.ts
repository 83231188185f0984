import type { Registry } from 'prom-client';
import type { QueueStats, RecipientStatus, Store } from '../../queue/store/types.js';

/** One queue depth sample for the "queue over time" chart. */
export interface DepthSample {
  at: number;
  byStatus: Record<RecipientStatus, number>;
}

/**
 * A small in-memory ring of queue depth samples taken every few seconds from store.stats(). The
 * timer does not keep the process alive; a failed sample is skipped (the chart shows a gap).
 */
export class DepthSampler {
  private readonly samples: DepthSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly everyMs: number,
    private readonly now: () => number,
    private readonly capacity = 360,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async sample(): Promise<QueueStats | undefined> {
    const stats = await this.store.stats().catch(() => undefined);
    if (!stats) return undefined;
    this.samples.push({ at: this.now(), byStatus: { ...stats.byStatus } });
    if (this.samples.length > this.capacity) this.samples.shift();
    return stats;
  }

  list(): DepthSample[] {
    return [...this.samples];
  }
}

/** A counter summed by one label (e.g. rejections by reason); empty when the metric is not registered. */
export type Breakdown = Record<string, number>;

/** The dashboard's counters, read from the same registry as /metrics. */
export interface Counters {
  /** False until the metrics module registers its counters: the page says so instead of showing zeros. */
  available: boolean;
  accepted: number;
  rejectedByReason: Breakdown;
  deliveriesByResult: Breakdown;
  trustlistHitsByResult: Breakdown;
}

interface MetricJson {
  name: string;
  values: { value: number; labels: Record<string, string | number> }[];
}

/** Finds a metric by its name with or without a prefix ("outpost_messages_accepted_total"). */
function findMetric(metrics: MetricJson[], name: string): MetricJson | undefined {
  return metrics.find((metric) => metric.name === name || metric.name.endsWith(`_${name}`));
}

function total(metric: MetricJson | undefined): number {
  return (metric?.values ?? []).reduce((sum, item) => sum + item.value, 0);
}

function byLabel(metric: MetricJson | undefined, label: string): Breakdown {
  const out: Breakdown = {};
  for (const item of metric?.values ?? []) {
    const key = String(item.labels[label] ?? 'unknown');
    out[key] = (out[key] ?? 0) + item.value;
  }
  return out;
}

/** Reads the counters the metrics module registers (names from docs/reference/metrics.md). */
export async function readCounters(registry: Registry): Promise<Counters> {
  const metrics = (await registry.getMetricsAsJSON()) as MetricJson[];
  const accepted = findMetric(metrics, 'messages_accepted_total');
  const rejected = findMetric(metrics, 'messages_rejected_total');
  const deliveries = findMetric(metrics, 'deliveries_total');
  const rttl = findMetric(metrics, 'rttl_lookups_total');
  return {
    available: [accepted, rejected, deliveries, rttl].some((metric) => metric !== undefined),
    accepted: total(accepted),
    rejectedByReason: byLabel(rejected, 'reason'),
    deliveriesByResult: byLabel(deliveries, 'result'),
    trustlistHitsByResult: byLabel(rttl, 'result'),
  };
}

import type { FastifyInstance } from 'fastify';
import { register as defaultRegister } from 'prom-client';
import type { QueueStats } from '../../queue/store/types.js';
import { type AdminContext, frameOf, sendPage } from './context.js';
import { type Counters, type DepthSample, type DepthSampler, readCounters } from './dashboard-data.js';
import { html, jsonScript, type SafeHtml } from './html.js';
import { ADMIN_PREFIX, page } from './layout.js';

/** What the dashboard's charts draw; also served as JSON for their periodic refresh. */
export interface DashboardData {
  queue: QueueStats;
  counters: Counters;
  depth: DepthSample[];
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((total, value) => total + value, 0);
}

function tiles(data: DashboardData): SafeHtml {
  const { counters, queue } = data;
  const tile = (label: string, value: number | string, id: string) =>
    html`<div class="tile" id="${id}"><span class="value">${value}</span><span class="label">${label}</span></div>`;
  const na = (value: number) => (counters.available ? value : '–');
  return html`<div class="tiles">
${tile('accepted', na(counters.accepted), 'tile-accepted')}
${tile('rejected', na(sum(counters.rejectedByReason)), 'tile-rejected')}
${tile('delivered', na(counters.deliveriesByResult.delivered ?? 0), 'tile-delivered')}
${tile('deferred', na(counters.deliveriesByResult.deferred ?? 0), 'tile-deferred')}
${tile('messages in queue', queue.messages, 'tile-messages')}
${tile('waiting recipients', queue.byStatus.queued + queue.byStatus.deferred, 'tile-waiting')}
</div>
${counters.available ? '' : html`<p class="notice">Counters appear once the metrics module is running (see /metrics).</p>`}`;
}

/** Dashboard: counters from the metrics registry, queue depth over time from the sampler. */
export function dashboardRoutes(context: AdminContext, sampler: DepthSampler) {
  const registry = context.deps.metrics ?? defaultRegister;
  async function data(): Promise<DashboardData> {
    const queue = await context.deps.store.stats();
    return { queue, counters: await readCounters(registry), depth: sampler.list() };
  }
  return async (app: FastifyInstance): Promise<void> => {
    app.get(ADMIN_PREFIX, async (request, reply) => {
      const current = await data();
      const content = html`${tiles(current)}
<div class="charts">
  <figure><figcaption>Queue depth over time</figcaption><canvas id="chart-depth"></canvas></figure>
  <figure><figcaption>Rejected by reason</figcaption><canvas id="chart-rejected"></canvas></figure>
  <figure><figcaption>Deliveries by result</figcaption><canvas id="chart-deliveries"></canvas></figure>
  <figure><figcaption>Trust list lookups</figcaption><canvas id="chart-trust"></canvas></figure>
</div>
${jsonScript('dashboard-data', current)}`;
      const frame = frameOf(context, request, 'dashboard');
      return sendPage(reply, page(frame, 'Dashboard', content, ['chart.umd.min.js', 'admin.js']));
    });

    app.get(`${ADMIN_PREFIX}/dashboard.json`, async (_request, reply) => {
      return reply.header('cache-control', 'no-store').send(await data());
    });
  };
}

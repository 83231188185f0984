import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/registry.js';

export interface MetricsRouteDeps {
  metrics: Pick<Metrics, 'render' | 'contentType'>;
}

/**
 * GET /metrics in the Prometheus text format. Open like /health: it carries counts, no addresses
 * or message content, and scrapers rarely hold API tokens. Bind the HTTP API to a private address.
 */
export function metricsRoutes(deps: MetricsRouteDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', async (_request, reply) => {
      const text = await deps.metrics.render();
      return reply.header('content-type', deps.metrics.contentType).send(text);
    });
  };
}

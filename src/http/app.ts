import Fastify, { type FastifyInstance } from 'fastify';
import type { ChallengeService } from '../challenge/service.js';
import type { Logger } from '../core/log.js';
import { im2000ApiRoutes, type PostOffice } from '../im2000/index.js';
import type { Metrics } from '../metrics/registry.js';
import type { Store } from '../queue/store/types.js';
import { trustlistRoutes } from '../trustlist/http.js';
import { type AdminDeps, adminRoutes } from './admin/index.js';
import { bearerAuth } from './auth.js';
import { challengeApiRoutes, challengeConfirmRoutes } from './challenge-routes.js';
import { installErrorHandler } from './errors.js';
import { metricsRoutes } from './metrics-routes.js';
import { queueRoutes } from './queue-routes.js';

export interface HttpDeps {
  store: Store;
  token: string | undefined;
  logger?: Logger;
  /** Facts for /health: listeners and their addresses. */
  health: () => Record<string, unknown>;
  /** The admin console's optional services (trust list, challenges, IM2000) where this node runs them. */
  admin?: Omit<AdminDeps, 'store' | 'token'>;
  metrics?: Metrics;
  /** Called when an operator makes queued mail due now (release, requeue, flush). */
  onQueueDue?: () => void;
  challenges?: ChallengeService;
  /** The IM2000 post office, when this node runs one: its status and recall API on this port too. */
  postOffice?: PostOffice;
}

/** The HTTP API: /health open, everything under /api behind the bearer token. */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  installErrorHandler(app, deps.logger);
  app.get('/health', async () => ({ status: 'ok', ...deps.health() }));
  if (deps.metrics) await app.register(metricsRoutes({ metrics: deps.metrics }));
  if (deps.challenges) await app.register(challengeConfirmRoutes(deps.challenges));
  await app.register(async (api) => {
    api.addHook('onRequest', bearerAuth(deps.token));
    await api.register(queueRoutes(deps.store, deps.onQueueDue ? { onDue: deps.onQueueDue } : {}));
    if (deps.challenges) await api.register(challengeApiRoutes(deps.challenges));
    if (deps.admin?.trustlist) await api.register(trustlistRoutes(deps.admin.trustlist));
    if (deps.postOffice) await api.register(im2000ApiRoutes(deps.postOffice));
  });
  await app.register(
    adminRoutes({
      store: deps.store,
      token: deps.token,
      ...(deps.metrics ? { metrics: deps.metrics.registry } : {}),
      ...deps.admin,
    }),
  );
  return app;
}

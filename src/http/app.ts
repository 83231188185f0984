import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../core/log.js';
import type { Store } from '../queue/store/types.js';
import { bearerAuth } from './auth.js';
import { installErrorHandler } from './errors.js';
import { queueRoutes } from './queue-routes.js';

export interface HttpDeps {
  store: Store;
  token: string | undefined;
  logger?: Logger;
  /** Facts for /health: listeners and their addresses. */
  health: () => Record<string, unknown>;
}

/** The HTTP API: /health open, everything under /api behind the bearer token. */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  installErrorHandler(app, deps.logger);
  app.get('/health', async () => ({ status: 'ok', ...deps.health() }));
  await app.register(async (api) => {
    api.addHook('onRequest', bearerAuth(deps.token));
    await api.register(queueRoutes(deps.store));
  });
  return app;
}

// A standalone HTTP(S) listener for a post office: the IM2000 endpoints, the operator API and the
// public feeds. The lead's main HTTP app can register the same plugins instead.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../core/log.js';
import { installErrorHandler } from '../http/errors.js';
import { type FeedOptions, feedRoutes } from './feeds.js';
import type { PostOffice } from './post-office.js';
import { im2000Plugin } from './routes.js';

export interface PostOfficeAppOptions {
  /** PEM key and certificate for HTTPS; without them the app speaks plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  apiToken: string | undefined;
  feeds?: FeedOptions;
  logger?: Logger;
}

function createFastify(tls: PostOfficeAppOptions['tls']): FastifyInstance {
  // fastify types an HTTPS instance by its server class; routes, hooks and inject are the same.
  return (tls
    ? Fastify({ https: tls, bodyLimit: 256 * 1024 })
    : Fastify({ bodyLimit: 256 * 1024 })) as unknown as FastifyInstance;
}

export async function buildPostOfficeApp(
  postOffice: PostOffice,
  options: PostOfficeAppOptions,
): Promise<FastifyInstance> {
  const app = createFastify(options.tls);
  installErrorHandler(app, options.logger);
  await app.register(im2000Plugin(postOffice, { apiToken: options.apiToken }));
  if (options.feeds) await app.register(feedRoutes(options.feeds));
  return app;
}

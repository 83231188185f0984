// The post office's HTTP endpoints (docs/protocols/im2000.md): the public protocol endpoints other
// post offices call, and the operator's /api/im2000 endpoints behind the bearer token.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { OutpostError } from '../core/errors.js';
import { bearerAuth } from '../http/auth.js';
import type { PostOffice } from './post-office.js';
import { messageIdSchema, noticeSchema, receiptSchema } from './protocol.js';

function parsed<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  body: unknown,
  what: string,
): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new OutpostError('BAD_REQUEST', `not a valid ${what}`);
  return result.data;
}

function messageId(params: unknown): string {
  const id = typeof params === 'object' && params !== null && 'id' in params ? params.id : undefined;
  if (!messageIdSchema.safeParse(id).success || typeof id !== 'string') {
    throw new OutpostError('IM2000_UNKNOWN_MESSAGE', 'malformed id');
  }
  return id;
}

/** POST /im2000/notice, GET /im2000/messages/:id?token=, POST /im2000/receipt. */
export function im2000ProtocolRoutes(postOffice: PostOffice): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.post('/im2000/notice', async (request, reply) => {
      const outcome = await postOffice.acceptNotice(parsed(noticeSchema, request.body, 'notice'));
      return reply.code(outcome === 'accepted' ? 202 : 200).send({ status: outcome });
    });
    app.get('/im2000/messages/:id', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const token = typeof query.token === 'string' ? query.token : undefined;
      const body = postOffice.fetch(messageId(request.params), token);
      return reply.header('content-type', 'message/rfc822').send(body);
    });
    app.post('/im2000/receipt', async (request) => {
      await postOffice.acceptReceipt(parsed(receiptSchema, request.body, 'receipt'));
      return { status: 'receipted' };
    });
  };
}

/** GET /api/im2000/:id (status), POST /api/im2000/:id/recall; register inside a bearer-protected scope. */
export function im2000ApiRoutes(postOffice: PostOffice): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.get('/api/im2000/:id', async (request) => postOffice.status(messageId(request.params)));
    app.post('/api/im2000/:id/recall', async (request) => postOffice.recall(messageId(request.params)));
  };
}

/** Both route sets, the API ones behind `apiToken` (no token = API closed), for a standalone app. */
export function im2000Plugin(
  postOffice: PostOffice,
  options: { apiToken: string | undefined },
): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    await app.register(im2000ProtocolRoutes(postOffice));
    await app.register(async (api) => {
      api.addHook('onRequest', bearerAuth(options.apiToken));
      await api.register(im2000ApiRoutes(postOffice));
    });
  };
}

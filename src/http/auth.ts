import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

/** Bearer-token check for /api routes; constant-time comparison. No token configured = API closed. */
export function bearerAuth(token: string | undefined) {
  const expected = token ? Buffer.from(token) : undefined;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? Buffer.from(header.slice(7).trim()) : undefined;
    const ok = expected && given && given.length === expected.length && timingSafeEqual(given, expected);
    if (!ok) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="outpost"')
        .send(errorBody('UNAUTHORIZED', 'Missing or wrong bearer token'));
    }
  };
}

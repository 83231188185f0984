import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ChallengeService, ConfirmOutcome } from '../challenge/service.js';
import { OutpostError } from '../core/errors.js';
import { parseRequest } from './errors.js';

const listQuery = z.object({
  user: z.string().min(3).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const idParams = z.object({ id: z.coerce.number().int().min(1) });
const releaseBody = z.object({ whitelist: z.boolean().default(false) }).default({ whitelist: false });
const whitelistQuery = z.object({ user: z.string().min(3) });
const whitelistBody = z.object({ user: z.string().min(3), sender: z.string().min(1) });

/**
 * Operator API for held messages (under /api, behind the bearer token): list, release, discard,
 * and the per-user whitelist. The CLI calls the same ChallengeService methods.
 */
export function challengeApiRoutes(service: ChallengeService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/api/challenge', async (request) => {
      const query = parseRequest(listQuery, request.query, 'query');
      return {
        pending: service.listPending({
          limit: query.limit,
          ...(query.user === undefined ? {} : { user: query.user }),
        }),
      };
    });

    app.post('/api/challenge/:id/release', async (request) => {
      const { id } = parseRequest(idParams, request.params, 'params');
      const { whitelist } = parseRequest(releaseBody, request.body, 'body');
      const released = await service.release(id, { whitelist });
      if (!released) throw new OutpostError('NOT_FOUND', `No held message ${id} waiting`);
      return released;
    });

    app.post('/api/challenge/:id/discard', async (request) => {
      const { id } = parseRequest(idParams, request.params, 'params');
      if (!(await service.discard(id, 'discarded through the HTTP API'))) {
        throw new OutpostError('NOT_FOUND', `No held message ${id} waiting`);
      }
      return { discarded: id };
    });

    app.get('/api/challenge/whitelist', async (request) => {
      const { user } = parseRequest(whitelistQuery, request.query, 'query');
      return { whitelist: service.whitelist(user) };
    });

    app.post('/api/challenge/whitelist', async (request) => {
      const { user, sender } = parseRequest(whitelistBody, request.body, 'body');
      service.addToWhitelist(user, sender, 'operator');
      return { whitelist: service.whitelist(user) };
    });

    app.delete('/api/challenge/whitelist', async (request) => {
      const { user, sender } = parseRequest(whitelistBody, request.body, 'body');
      if (!service.removeFromWhitelist(user, sender)) {
        throw new OutpostError('NOT_FOUND', `${sender} is not on the whitelist of ${user}`);
      }
      return { whitelist: service.whitelist(user) };
    });
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(reply: FastifyReply, status: number, title: string, content: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>' +
        `<body><main><h1>${escapeHtml(title)}</h1>${content}</main></body></html>\n`,
    );
}

function outcomePage(reply: FastifyReply, outcome: ConfirmOutcome): FastifyReply {
  switch (outcome.kind) {
    case 'released':
      return page(
        reply,
        200,
        'Released',
        `<p>Thank you. Your message to ${escapeHtml(outcome.user)} is on its way, and later messages ` +
          `from ${escapeHtml(outcome.sender)} will arrive without this step.</p>`,
      );
    case 'already':
      return page(reply, 200, 'Already released', '<p>This message was released before.</p>');
    case 'invalid':
      return page(
        reply,
        404,
        'Link not valid',
        '<p>This link is unknown, or the message it was for expired or was discarded.</p>',
      );
  }
}

/**
 * The public confirm link of a challenge. GET shows a page with a button and changes nothing, so
 * link scanners and prefetchers cannot release mail; the button POSTs to the same URL. The token
 * is 256 random bits and single-use, so the POST needs no other CSRF protection.
 */
export function challengeConfirmRoutes(service: ChallengeService) {
  return async (app: FastifyInstance): Promise<void> => {
    // The button sends an empty urlencoded form; the token in the URL is all that counts.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, _body, done) => done(null, undefined),
    );

    app.get<{ Params: { token: string } }>('/challenge/confirm/:token', async (request, reply) => {
      const entry = service.entryOfToken(request.params.token);
      if (entry?.state === 'released')
        return outcomePage(reply, { kind: 'already', user: entry.user, sender: entry.sender });
      if (entry?.state !== 'pending') return outcomePage(reply, { kind: 'invalid', reason: 'unknown-token' });
      return page(
        reply,
        200,
        'Confirm your message',
        `<p>Your message to ${escapeHtml(entry.user)} is held until you confirm that you sent it.</p>` +
          // No action attribute: the form posts to this same URL, wherever the app is mounted.
          '<form method="post"><button type="submit">Release my message</button></form>',
      );
    });

    app.post<{ Params: { token: string } }>('/challenge/confirm/:token', async (request, reply) =>
      outcomePage(reply, await service.confirmByToken(request.params.token)),
    );
  };
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { OutpostError } from '../../core/errors.js';
import type { AdminDeps } from './deps.js';
import { ADMIN_PREFIX, type PageFrame, type PageName } from './layout.js';
import type { AdminSession } from './session.js';

/** What the route groups of the console share. */
export interface AdminContext {
  deps: AdminDeps;
  now: () => number;
  /** The pages this node has (optional services hidden when absent). */
  pages: PageName[];
  /** The logged-in operator of a request that passed the guard. */
  sessionOf(request: FastifyRequest): AdminSession;
  /** The audit name of the operator, e.g. "admin:token" or "admin:postmaster@example.org". */
  actorOf(request: FastifyRequest): string;
}

/** The fixed sentences a finished action may show after the reload; `?done=<key>&n=<count>`. */
const NOTICES: Record<string, string> = {
  hold: 'Held',
  release: 'Released',
  flush: 'Flushed',
  requeue: 'Requeued',
  remove: 'Removed',
  discard: 'Discarded',
  whitelist: 'Whitelisted the sender',
  delist: 'Delisted',
  relist: 'Relisted',
  recall: 'Recalled',
};

/** The frame of a page: navigation, operator and the notice chosen by the `done` query key. */
export function frameOf(context: AdminContext, request: FastifyRequest, active: PageName): PageFrame {
  const query = request.query as { done?: unknown; n?: unknown };
  const verb = typeof query.done === 'string' ? NOTICES[query.done] : undefined;
  const count = typeof query.n === 'string' && /^\d{1,6}$/.test(query.n) ? Number(query.n) : undefined;
  const frame: PageFrame = { session: context.sessionOf(request), pages: context.pages, active };
  if (verb) frame.notice = count === undefined ? `${verb}.` : `${verb}: ${count} recipient(s) changed.`;
  return frame;
}

/**
 * Ends a successful action: htmx follows HX-Redirect, a plain form post follows the 303. `path`
 * is always one of ours (never taken from the request), so this cannot redirect off-site.
 */
export function finishAction(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  done: string,
  count?: number,
): FastifyReply {
  const separator = path.includes('?') ? '&' : '?';
  const target = `${ADMIN_PREFIX}${path}${separator}done=${done}${count === undefined ? '' : `&n=${count}`}`;
  if (request.headers['hx-request'] === 'true') {
    return reply.code(200).header('hx-redirect', target).type('text/html; charset=utf-8').send('');
  }
  return reply.code(303).header('location', target).send();
}

/** A text field of a submitted form ('' when absent). */
export function formField(request: FastifyRequest, name: string): string {
  const body = request.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value : '';
}

/** A required text field; BAD_REQUEST naming it when empty. */
export function requiredField(request: FastifyRequest, name: string): string {
  const value = formField(request, name).trim();
  if (value === '') throw new OutpostError('BAD_REQUEST', `${name}: required`);
  return value;
}

/** A path parameter by name. */
export function param(request: FastifyRequest, name: string): string {
  const value = (request.params as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value === '') throw new OutpostError('BAD_REQUEST', `${name}: required`);
  return value;
}

/** Sends a rendered page with the console's headers. */
export function sendPage(reply: FastifyReply, body: { value: string }, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body.value);
}

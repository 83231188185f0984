import { timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, Errors, isOutpostError } from '../../core/errors.js';
import { verifyPassword } from '../../core/password.js';
import { errorBody } from '../errors.js';
import { assetRoutes } from './assets.js';
import { type AdminContext, formField, sendPage } from './context.js';
import { dashboardRoutes } from './dashboard.js';
import { DepthSampler } from './dashboard-data.js';
import type { AdminDeps } from './deps.js';
import { html } from './html.js';
import { ADMIN_PREFIX, errorPage, loginPage, type PageName } from './layout.js';
import { quarantineRoutes } from './quarantine.js';
import { queueRoutes } from './queue.js';
import { challengeRoutes, im2000Routes } from './services.js';
import {
  type AdminSession,
  cookieValue,
  SESSION_COOKIE,
  SessionKeeper,
  sameOrigin,
  sessionCookie,
  sessionKey,
} from './session.js';
import { trustlistRoutes } from './trustlist.js';

export type {
  AdminDeps,
  ChallengeAdmin,
  Im2000Admin,
  Im2000Sent,
  PendingChallenge,
} from './deps.js';

/**
 * A refused write (foreign origin, missing or wrong CSRF token) is 403. The catalogue has no
 * FORBIDDEN code yet (docs/admin-console.md asks for one), so the body names UNAUTHORIZED.
 */
const FORBIDDEN_CODE: ErrorCode = 'FORBIDDEN';

/** Routes anyone may reach: the login form and the static assets. */
function isPublic(request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  return url === `${ADMIN_PREFIX}/login` || url.startsWith(`${ADMIN_PREFIX}/assets/`);
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

/** An error as the asker understands it: an htmx fragment, an HTML page or the API's JSON. */
function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
): FastifyReply {
  reply.code(status);
  if (request.headers['hx-request'] === 'true') {
    return reply.type('text/html; charset=utf-8').send(html`<p class="error">${message}</p>`.value);
  }
  if (wantsHtml(request)) return sendPage(reply, errorPage(status, message), status);
  return reply.send(errorBody(code, message));
}

/** Not logged in: a page visit goes to the login form, htmx follows HX-Redirect, an API client gets 401. */
function sendLoginRequired(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const login = `${ADMIN_PREFIX}/login`;
  if (request.headers['hx-request'] === 'true') {
    return reply.code(401).header('hx-redirect', login).send(errorBody('UNAUTHORIZED', 'Log in first'));
  }
  if (request.method === 'GET' && wantsHtml(request)) return reply.code(303).header('location', login).send();
  return sendError(request, reply, 401, 'UNAUTHORIZED', 'Log in first');
}

async function credentialsValid(deps: AdminDeps, user: string, secret: string): Promise<string | undefined> {
  if (user === '') {
    const token = deps.token;
    if (!token || secret.length !== token.length) return undefined;
    return timingSafeEqual(Buffer.from(secret), Buffer.from(token)) ? 'token' : undefined;
  }
  const account = await deps.store.getUser(user);
  if (!account?.passwordHash || account.settings.admin !== 'true') return undefined;
  return (await verifyPassword(secret, account.passwordHash)) ? account.address : undefined;
}

function pagesOf(deps: AdminDeps): PageName[] {
  return [
    'dashboard',
    'queue',
    'quarantine',
    ...(deps.challenge ? (['challenge'] as const) : []),
    ...(deps.trustlist ? (['trustlist'] as const) : []),
    ...(deps.im2000 ? (['im2000'] as const) : []),
  ];
}

/**
 * The admin web console under /admin on the API's HTTP server: server-rendered pages, htmx for
 * actions, Chart.js for the dashboard. Login with the API token or an admin user; every write
 * needs the session's CSRF token and a same-origin request. Register with
 * `app.register(adminRoutes(deps))`.
 */
export function adminRoutes(deps: AdminDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const now = deps.now ?? Date.now;
    const keeper = new SessionKeeper(sessionKey(deps.token), now);
    const sessions = new WeakMap<FastifyRequest, AdminSession>();
    const context: AdminContext = {
      deps,
      now,
      pages: pagesOf(deps),
      sessionOf(request) {
        const session = sessions.get(request);
        if (!session) throw new Error('admin route reached without a session');
        return session;
      },
      actorOf(request) {
        return `admin:${context.sessionOf(request).subject}`;
      },
    };
    const sampler = new DepthSampler(deps.store, deps.sampleEveryMs ?? 10_000, now);
    sampler.start();
    app.addHook('onClose', async () => sampler.stop());

    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 1024 * 1024 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );

    app.addHook('onSend', async (_request, reply) => {
      reply.headers(SECURITY_HEADERS);
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (isOutpostError(error)) {
        return sendError(
          request,
          reply,
          error.httpStatus,
          error.code,
          error.detail ?? Errors[error.code].smtp[2],
        );
      }
      if (error.statusCode && error.statusCode < 500) {
        return sendError(request, reply, error.statusCode, 'BAD_REQUEST', error.message);
      }
      request.log.error({ err: error }, 'admin request failed');
      return sendError(request, reply, 503, 'QUEUE_UNAVAILABLE', Errors.QUEUE_UNAVAILABLE.smtp[2]);
    });

    app.addHook('preHandler', async (request, reply) => {
      if (request.method === 'POST' && !sameOrigin(request)) {
        return sendError(request, reply, 403, FORBIDDEN_CODE, 'Cross-origin request refused');
      }
      if (isPublic(request)) return;
      const session = keeper.decode(cookieValue(request, SESSION_COOKIE));
      if (!session) return sendLoginRequired(request, reply);
      if (request.method === 'POST') {
        const header = request.headers['x-csrf-token'];
        const given = typeof header === 'string' ? header : formField(request, '_csrf') || undefined;
        if (!keeper.csrfMatches(session, given)) {
          return sendError(
            request,
            reply,
            403,
            FORBIDDEN_CODE,
            'CSRF token missing or wrong; reload the page',
          );
        }
      }
      sessions.set(request, session);
    });

    app.get(`${ADMIN_PREFIX}/login`, async (request, reply) => {
      if (keeper.decode(cookieValue(request, SESSION_COOKIE))) {
        return reply.code(303).header('location', ADMIN_PREFIX).send();
      }
      return sendPage(reply, loginPage(undefined, deps.token !== undefined));
    });

    app.post(`${ADMIN_PREFIX}/login`, async (request, reply) => {
      const subject = await credentialsValid(
        deps,
        formField(request, 'user').trim(),
        formField(request, 'secret'),
      );
      if (!subject) {
        return sendPage(reply, loginPage('Wrong user, password or token.', deps.token !== undefined), 401);
      }
      const cookie = keeper.encode(keeper.create(subject));
      return reply
        .code(303)
        .header('set-cookie', sessionCookie(cookie, request.protocol === 'https'))
        .header('location', ADMIN_PREFIX)
        .send();
    });

    app.post(`${ADMIN_PREFIX}/logout`, async (request, reply) => {
      keeper.revoke(context.sessionOf(request));
      return reply
        .code(303)
        .header('set-cookie', sessionCookie(undefined, request.protocol === 'https'))
        .header('location', `${ADMIN_PREFIX}/login`)
        .send();
    });

    await app.register(assetRoutes());
    await app.register(dashboardRoutes(context, sampler));
    await app.register(queueRoutes(context));
    await app.register(quarantineRoutes(context));
    if (deps.challenge) await app.register(challengeRoutes(context, deps.challenge));
    if (deps.trustlist) await app.register(trustlistRoutes(context, deps.trustlist));
    if (deps.im2000) await app.register(im2000Routes(context, deps.im2000));
  };
}

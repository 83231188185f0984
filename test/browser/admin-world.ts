import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AdminDeps } from '../../src/http/admin/deps.js';
import { adminRoutes } from '../../src/http/admin/index.js';
import { installErrorHandler } from '../../src/http/errors.js';
import { openSqliteStore, type SqliteStore } from '../../src/queue/store/sqlite/index.js';
import type { NewRecipient } from '../../src/queue/store/types.js';

export const TOKEN = 'admin-test-token-0123456789';

/** A fastify app with the admin console over a real SQLite queue in a temp dir. */
export interface AdminWorld {
  app: FastifyInstance;
  store: SqliteStore;
  dir: string;
}

export async function adminWorld(t: TestContext, extra: Partial<AdminDeps> = {}): Promise<AdminWorld> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-admin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openSqliteStore({
    path: path.join(dir, 'db', 'queue.db'),
    bodiesDir: path.join(dir, 'bodies'),
  });
  t.after(() => store.close());
  const app = Fastify({ logger: false });
  installErrorHandler(app);
  await app.register(adminRoutes({ store, token: TOKEN, sampleEveryMs: 60_000, ...extra }));
  await app.ready();
  t.after(() => app.close());
  return { app, store, dir };
}

let sequence = 0;

/** Enqueues a message with the given headers and recipients; returns its queue id. */
export async function enqueueMessage(
  store: SqliteStore,
  options: { sender?: string; headers?: string; recipients?: Partial<NewRecipient>[] } = {},
): Promise<string> {
  sequence += 1;
  const id = `ADMTEST${Date.now().toString(36).toUpperCase()}${sequence}`;
  const headers =
    options.headers ??
    'Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@sender.example\r\nSubject: hello\r\n';
  await store.enqueue({
    id,
    sender: options.sender ?? 'alice@sender.example',
    body: Buffer.from(`${headers}From: alice@sender.example\r\n\r\nHello there.\r\n`),
    receivedAt: Date.now(),
    meta: { listener: 'mx', client: '192.0.2.7' },
    recipients: (options.recipients ?? [{}]).map((rcpt) => ({
      address: 'bob@example.org',
      target: 'maildir',
      ...rcpt,
    })),
  });
  return id;
}

/** The value of the session cookie a login reply sets. */
export function sessionCookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  const pair = header?.split(';')[0];
  if (!pair?.startsWith('outpost_admin=')) throw new Error(`no session cookie in ${String(header)}`);
  return pair;
}

/** Logs in with the API token; returns the Cookie header and the session's CSRF token. */
export async function login(app: FastifyInstance): Promise<{ cookie: string; csrf: string }> {
  const reply = await app.inject({
    method: 'POST',
    url: '/admin/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ user: '', secret: TOKEN }).toString(),
  });
  if (reply.statusCode !== 303) throw new Error(`login failed: ${reply.statusCode} ${reply.body}`);
  const cookie = sessionCookieOf(reply.headers['set-cookie']);
  const page = await app.inject({
    method: 'GET',
    url: '/admin/queue',
    headers: { cookie, accept: 'text/html' },
  });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!csrf) throw new Error('no CSRF token on the page');
  return { cookie, csrf };
}

/** A form POST as a logged-in browser would send it. */
export function postForm(
  app: FastifyInstance,
  url: string,
  cookie: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
    payload: new URLSearchParams(fields).toString(),
  });
}

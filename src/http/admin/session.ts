import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** Name of the session cookie; scoped to /admin. */
export const SESSION_COOKIE = 'outpost_admin';

/** Sessions last a working day; a new login is needed afterwards. */
const SESSION_TTL_MS = 12 * 3600_000;

/** Who is logged in, and the CSRF token every write of this session must carry. */
export interface AdminSession {
  id: string;
  /** "token" for the API token, else the admin user's address. */
  subject: string;
  csrf: string;
  expiresAt: number;
}

/** The key that signs session cookies: derived from the API token (sessions survive restarts), else random. */
export function sessionKey(token: string | undefined): Buffer {
  if (!token) return randomBytes(32);
  return createHmac('sha256', token).update('outpost admin session key v1').digest();
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Signed, stateless session cookies with an in-memory list of logged-out session ids (so a logout
 * ends the session at once, not only when the cookie expires).
 */
export class SessionKeeper {
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly key: Buffer,
    private readonly now: () => number,
  ) {}

  create(subject: string): AdminSession {
    return {
      id: randomBytes(12).toString('base64url'),
      subject,
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: this.now() + SESSION_TTL_MS,
    };
  }

  /** The cookie value: base64url(JSON payload) "." HMAC. */
  encode(session: AdminSession): string {
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${payload}.${sign(this.key, payload)}`;
  }

  /** The session a cookie value stands for, if the signature holds and it is neither expired nor logged out. */
  decode(cookie: string | undefined): AdminSession | undefined {
    if (!cookie) return undefined;
    const [payload, signature, extra] = cookie.split('.');
    if (!payload || !signature || extra !== undefined) return undefined;
    if (!sameText(signature, sign(this.key, payload))) return undefined;
    const session = parseSession(Buffer.from(payload, 'base64url').toString('utf8'));
    if (!session || session.expiresAt <= this.now() || this.revoked.has(session.id)) return undefined;
    return session;
  }

  revoke(session: AdminSession): void {
    const now = this.now();
    for (const [id, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(id);
    this.revoked.set(session.id, session.expiresAt);
  }

  /** Whether the token a write carries is this session's CSRF token (constant time). */
  csrfMatches(session: AdminSession, given: string | undefined): boolean {
    return given !== undefined && sameText(given, session.csrf);
  }
}

function parseSession(json: string): AdminSession | undefined {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== 'object' || value === null) return undefined;
    const { id, subject, csrf, expiresAt } = value as Record<string, unknown>;
    if (typeof id !== 'string' || typeof subject !== 'string' || typeof csrf !== 'string') return undefined;
    if (typeof expiresAt !== 'number') return undefined;
    return { id, subject, csrf, expiresAt };
  } catch {
    return undefined;
  }
}

/** Reads one cookie from the Cookie header. */
export function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** The Set-Cookie header for a session (or, without one, the header that deletes it). */
export function sessionCookie(value: string | undefined, secure: boolean): string {
  const attributes = ['Path=/admin', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  if (value === undefined) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ');
  return [`${SESSION_COOKIE}=${value}`, `Max-Age=${SESSION_TTL_MS / 1000}`, ...attributes].join('; ');
}

/**
 * A write must come from our own pages: an Origin header (or, without it, Sec-Fetch-Site) naming
 * another site is refused. Clients that send neither (curl, tests) still need the CSRF token.
 */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    return origin === `${request.protocol}://${request.headers.host ?? ''}`;
  }
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

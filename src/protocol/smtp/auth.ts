import { errorReply } from '../../core/reply.js';
import { Replies } from './replies.js';
import type { Outcome, Session } from './session.js';

interface Credentials {
  username: string;
  password: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 4954 4: the server challenges of AUTH LOGIN, "Username:" and "Password:" in base64.
const LOGIN_USERNAME = 'VXNlcm5hbWU6';
const LOGIN_PASSWORD = 'UGFzc3dvcmQ6';

/** AUTH is advertised and usable now: configured, a password checker given, TLS up unless allowed without. */
export function authOffered(session: Session): boolean {
  const auth = session.options.auth;
  if (auth === undefined || session.handlers.authenticate === undefined) return false;
  return session.info.secure || auth.allowInsecureAuth;
}

/** AUTH PLAIN (RFC 4616) and AUTH LOGIN, with or without an initial response (RFC 4954). */
export async function handleAuth(session: Session, args: string): Promise<void> {
  const { options, info } = session;
  const authenticate = session.handlers.authenticate;
  if (options.auth === undefined || authenticate === undefined) return session.fail(Replies.NOT_IMPLEMENTED);
  if (info.helo === undefined || !info.esmtp)
    return session.fail(errorReply('BAD_SEQUENCE', 'Send EHLO first'));
  if (!info.secure && !options.auth.allowInsecureAuth) return session.fail(Replies.AUTH_NEEDS_TLS);
  if (info.user !== undefined) return session.fail(errorReply('BAD_SEQUENCE', 'Already authenticated'));
  if (session.transaction !== undefined) {
    return session.fail(errorReply('BAD_SEQUENCE', 'AUTH not allowed during a mail transaction'));
  }
  const [mechanism = '', initial, ...extra] = args.trim().split(/ +/);
  if (extra.length > 0)
    return session.fail(errorReply('PARAM_SYNTAX', 'Syntax: AUTH mechanism [initial-response]'));
  const name = mechanism.toUpperCase();
  if (name !== 'PLAIN' && name !== 'LOGIN') return session.fail(Replies.AUTH_MECHANISM_UNKNOWN);
  const credentials =
    name === 'PLAIN' ? await readPlain(session, initial) : await readLogin(session, initial);
  if (credentials === undefined) return;
  if (!credentials.ok) return session.fail(credentials.reply);
  const { username, password } = credentials.value;
  const verdict = await session.call('authenticate', () => authenticate(info, username, password));
  if (!verdict.ok) return session.send(Replies.AUTH_TEMPORARY);
  if (!verdict.value) return session.fail(errorReply('UNAUTHORIZED'));
  info.user = username;
  session.send(Replies.AUTH_OK);
}

/** PLAIN: base64 of "authzid NUL authcid NUL password"; acting for another identity is not offered. */
async function readPlain(
  session: Session,
  initial: string | undefined,
): Promise<Outcome<Credentials> | undefined> {
  // RFC 4954 4: "=" is an initial response of zero length.
  const response =
    initial === undefined ? await readResponse(session, '') : decode(initial === '=' ? '' : initial);
  if (response === undefined || !response.ok) return response;
  const fields = response.value.toString('utf8').split('\0');
  const [authzid, username, password] = fields;
  if (fields.length !== 3 || authzid === undefined || username === undefined || password === undefined) {
    return { ok: false, reply: Replies.AUTH_BAD_BASE64 };
  }
  if (username === '' || (authzid !== '' && authzid !== username)) {
    return { ok: false, reply: errorReply('UNAUTHORIZED') };
  }
  return { ok: true, value: { username, password } };
}

/** LOGIN: the user name (possibly as initial response), then the password, each base64. */
async function readLogin(
  session: Session,
  initial: string | undefined,
): Promise<Outcome<Credentials> | undefined> {
  const username = initial === undefined ? await readResponse(session, LOGIN_USERNAME) : decode(initial);
  if (username === undefined || !username.ok) return username;
  const password = await readResponse(session, LOGIN_PASSWORD);
  if (password === undefined || !password.ok) return password;
  return {
    ok: true,
    value: { username: username.value.toString('utf8'), password: password.value.toString('utf8') },
  };
}

/** Sends a 334 challenge and reads the client's base64 answer; "*" cancels (RFC 4954 4). */
async function readResponse(session: Session, challenge: string): Promise<Outcome<Buffer> | undefined> {
  session.sendAsIs({ code: 334, text: challenge });
  const line = await session.readLine();
  if (line === undefined) return undefined;
  if (line.kind === 'too-long') return { ok: false, reply: errorReply('LINE_TOO_LONG') };
  if (line.kind === 'bad-utf8') return { ok: false, reply: Replies.AUTH_BAD_BASE64 };
  if (line.text.trim() === '*') return { ok: false, reply: Replies.AUTH_CANCELLED };
  return decode(line.text.trim());
}

function decode(text: string): Outcome<Buffer> {
  if (!BASE64.test(text)) return { ok: false, reply: Replies.AUTH_BAD_BASE64 };
  return { ok: true, value: Buffer.from(text, 'base64') };
}

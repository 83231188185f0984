import { errorReply } from '../../core/reply.js';
import { authOffered } from './auth.js';
import type { Session } from './session.js';

// A HELO/EHLO argument is one token: a domain or an address literal. Its syntax beyond that is
// left to the checks, which can judge it; whitespace and control characters are never accepted.
const BAD_HELO = /[^\x21-\x7e\u{80}-\u{10FFFF}]/u;

/** EHLO (RFC 5321 4.1.1.1): starts an ESMTP session and lists the extensions offered. */
export function handleEhlo(session: Session, args: string): Promise<void> {
  return greet(session, args, true);
}

/** HELO: starts a plain SMTP session (no ESMTP parameters). */
export function handleHelo(session: Session, args: string): Promise<void> {
  return greet(session, args, false);
}

/** The EHLO keywords of this session, in the order they are advertised. */
function extensions(session: Session): string[] {
  const { options, info, context } = session;
  const keywords = [
    'PIPELINING',
    '8BITMIME',
    'SMTPUTF8',
    `SIZE ${options.maxMessageSize}`,
    'ENHANCEDSTATUSCODES',
  ];
  if (options.dsn) keywords.push('DSN');
  if (context.tls !== undefined && !info.secure) keywords.push('STARTTLS');
  if (authOffered(session)) keywords.push('AUTH PLAIN LOGIN');
  keywords.push(...context.verbs.keys());
  return keywords;
}

async function greet(session: Session, args: string, extended: boolean): Promise<void> {
  const name = args.trim();
  if (name === '' || BAD_HELO.test(name)) {
    return session.fail(
      errorReply('PARAM_SYNTAX', `${extended ? 'EHLO' : 'HELO'} needs a domain or address literal`),
    );
  }
  const helo = session.handlers.helo;
  if (helo !== undefined) {
    const outcome = await session.call('helo', () => helo(session.info, name));
    const refusal = outcome.ok ? outcome.value : outcome.reply;
    if (refusal !== undefined && refusal.code >= 400) return session.send(refusal);
  }
  // RFC 5321 4.1.4: a new EHLO/HELO ends any transaction in progress, as RSET would.
  session.resetTransaction();
  session.info.helo = name;
  session.info.esmtp = extended;
  const replies = session.context.replies;
  session.sendPrepared(
    extended ? replies.ehlo(session.info.secure, () => extensions(session)) : replies.helo,
  );
}

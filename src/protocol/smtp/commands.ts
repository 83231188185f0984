import { errorReply } from '../../core/reply.js';
import { handleAuth } from './auth.js';
import { handleData } from './data.js';
import { handleEhlo, handleHelo } from './ehlo.js';
import { handleMail } from './mail.js';
import { handleRcpt } from './rcpt.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';
import { handleStartTls } from './starttls.js';

type VerbHandler = (session: Session, args: string) => Promise<void> | void;

const BUILTIN: ReadonlyMap<string, VerbHandler> = new Map<string, VerbHandler>([
  ['EHLO', handleEhlo],
  ['HELO', handleHelo],
  ['MAIL', handleMail],
  ['RCPT', handleRcpt],
  ['DATA', handleData],
  ['RSET', handleRset],
  ['NOOP', handleNoop],
  ['QUIT', handleQuit],
  ['VRFY', handleVrfy],
  ['HELP', handleHelp],
  ['STARTTLS', handleStartTls],
  ['AUTH', handleAuth],
]);

// Verbs of SMTP and its extensions that outpost knows and does not offer: 502, not 500.
const NOT_OFFERED: ReadonlySet<string> = new Set([
  'BDAT',
  'EXPN',
  'TURN',
  'ETRN',
  'ATRN',
  'SEND',
  'SOML',
  'SAML',
  'VERB',
  'XCLIENT',
  'XFORWARD',
]);

/** Runs one command: a built-in verb, an extension verb of the handlers, or the error for an unknown one. */
export async function runCommand(session: Session, verb: string, args: string): Promise<void> {
  const builtin = BUILTIN.get(verb);
  if (builtin !== undefined) return builtin(session, args);
  const extension = session.context.verbs.get(verb);
  if (extension !== undefined) {
    const outcome = await session.call(verb, () => extension(session.info, args));
    return session.send(outcome.ok ? outcome.value : outcome.reply);
  }
  if (NOT_OFFERED.has(verb)) return session.fail(Replies.NOT_IMPLEMENTED);
  session.fail(errorReply('SYNTAX_ERROR'));
}

function handleRset(session: Session, args: string): void {
  if (args.trim() !== '') {
    session.fail(errorReply('PARAM_SYNTAX', 'RSET takes no arguments'));
  } else {
    session.resetTransaction();
    session.send(Replies.OK);
  }
}

function handleNoop(session: Session): void {
  session.send(Replies.OK);
}

function handleQuit(session: Session): void {
  session.quit(session.context.replies.quit);
}

function handleVrfy(session: Session, args: string): void {
  if (args.trim() === '') session.fail(errorReply('PARAM_SYNTAX', 'VRFY needs an argument'));
  else session.send(Replies.CANNOT_VRFY);
}

function handleHelp(session: Session): void {
  const verbs = [...BUILTIN.keys(), ...session.context.verbs.keys()].join(' ');
  session.send({ code: 214, enhanced: '2.0.0', text: `Commands: ${verbs}` });
}

import addressparser from 'nodemailer/lib/addressparser/index.js';
import { hashPassword, verifyPassword } from '../core/password.js';
import { errorReply, type Reply } from '../core/reply.js';
import { formatAuthResults } from '../pipeline/auth-results.js';
import type { CheckResult } from '../pipeline/check.js';
import type { SessionInfo, SmtpHandlers } from '../protocol/smtp/types.js';
import type { Store } from '../queue/store/types.js';
import { describeExceeded, type Exceeded, type RateLimiter, type Sender } from '../ratelimit/limiter.js';
import { headerEnd } from './headers.js';
import { enqueueMessage, type InboundDeps } from './mx.js';

export interface SubmissionDeps extends InboundDeps {
  /** Per-user and per-client limits; absent means no limits. */
  rateLimiter?: RateLimiter;
}

/** Session state key: the addresses the authenticated user may send as, read at MAIL FROM. */
const OWNED_KEY = 'submission.owned';

/** The header fields that name the author (RFC 5322 3.6.2); each address in them must be the user's. */
const AUTHOR_FIELDS = ['from', 'sender'] as const;

/**
 * The submission profile (RFC 6409): AUTH before MAIL, the envelope sender and the From:/Sender:
 * addresses must belong to the authenticated user, per-user and per-client rate limits, and
 * recipients anywhere (remote ones go to the smtp target). The listener's checks still run at each
 * stage, so e.g. antivirus refuses an infected message here as it does on the MX.
 */
export function submissionHandlers(deps: SubmissionDeps): SmtpHandlers {
  const { policy, rateLimiter } = deps;
  return {
    connect: (session) => policy.run('connect', session),
    helo: (session) => policy.run('helo', session),
    authenticate: (_session, username, password) => checkCredentials(deps.store, username, password),

    async mailFrom(session, from, params) {
      const user = session.user;
      if (user === undefined) return errorReply('AUTH_REQUIRED');
      if (from === '') return errorReply('NULL_SENDER_REFUSED');
      const owned = await ownedAddresses(deps.store, user);
      if (!owned.has(from.toLowerCase())) return notOwned(user);
      session.state[OWNED_KEY] = owned;
      const limited = rateLimiter?.checkMessage(senderOf(session));
      if (limited !== undefined) return rateLimited(limited);
      policy.beginTransaction(session);
      return policy.run('mail', session, { tx: { from, params, recipients: [] } });
    },

    async rcptTo(session, tx, rcpt) {
      const delayed = policy.delayedRefusal(session);
      if (delayed) return delayed;
      const route = deps.recipients.route(rcpt.address);
      if (route.kind === 'local') await deps.recipients.requireMailbox(route.address);
      const count = tx.recipients.length + 1;
      const perMessage = rateLimiter?.recipientsPerMessage;
      if (perMessage !== undefined && count > perMessage) {
        return errorReply(
          'TOO_MANY_RECIPIENTS',
          `Too many recipients: at most ${perMessage} per message, send the rest in another message`,
        );
      }
      const limited = rateLimiter?.checkRecipients(senderOf(session), count);
      if (limited !== undefined) return rateLimited(limited);
      return policy.run('rcpt', session, { tx, rcpt: route.address });
    },

    async data(session, tx, message) {
      const authorRefusal = checkAuthors(session, message);
      if (authorRefusal) return authorRefusal;
      const refusal = await policy.run('data', session, { tx, message });
      if (refusal) return refusal;
      // Outgoing mail has no Junk folder to go to: the author hears of a quarantine verdict at once.
      const quarantine = policy.quarantine(session);
      if (quarantine) {
        return errorReply(
          'POLICY_REJECT',
          `Message refused by policy (${quarantine.reason ?? quarantine.by})`,
        );
      }
      const limited = rateLimiter?.record(senderOf(session), tx.recipients.length);
      if (limited !== undefined) return rateLimited(limited);
      return enqueueMessage(deps, session, tx, message, { extraHeaders: authResults(deps, session) });
    },
  };
}

let dummyHash: Promise<string> | undefined;

/**
 * True when the user exists, has a password and it matches. An unknown user costs one scrypt run
 * as well, so the reply time does not tell which user names exist.
 */
export async function checkCredentials(store: Store, username: string, password: string): Promise<boolean> {
  const user = await store.getUser(username.toLowerCase());
  if (user?.passwordHash === undefined) {
    dummyHash ??= hashPassword('outpost: no such user');
    await verifyPassword(password, await dummyHash);
    return false;
  }
  return verifyPassword(password, user.passwordHash);
}

/** The user's own address and its aliases (settings.aliases, comma-separated), lower-cased. */
export async function ownedAddresses(store: Store, username: string): Promise<Set<string>> {
  const address = username.toLowerCase();
  const user = await store.getUser(address);
  const owned = new Set([address]);
  for (const alias of parseAliases(user?.settings.aliases)) owned.add(alias);
  return owned;
}

/** The comma-separated aliases setting as a list of lower-cased addresses. */
export function parseAliases(setting: string | undefined): string[] {
  if (setting === undefined) return [];
  return setting
    .split(',')
    .map((alias) => alias.trim().toLowerCase())
    .filter((alias) => alias !== '');
}

/** Every address in the message's From: and Sender: fields (folded lines joined, groups flattened). */
export function authorAddresses(message: Buffer): string[] {
  const headerBlock = message.subarray(0, headerEnd(message)).toString('utf8');
  const unfolded = headerBlock.replace(/\r?\n[ \t]/g, ' ');
  const addresses: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!(AUTHOR_FIELDS as readonly string[]).includes(name)) continue;
    for (const { address } of addressparser(line.slice(colon + 1), { flatten: true })) {
      addresses.push(address);
    }
  }
  return addresses;
}

/** 553 unless the message names an author and every author address is the user's. */
function checkAuthors(session: SessionInfo, message: Buffer): Reply | undefined {
  const user = session.user ?? '';
  const owned = session.state[OWNED_KEY];
  if (!(owned instanceof Set)) return notOwned(user);
  const authors = authorAddresses(message);
  if (!authors.some((address) => address !== '')) {
    return errorReply('SENDER_NOT_OWNED', 'Message has no From: address');
  }
  const foreign = authors.find((address) => !owned.has(address.toLowerCase()));
  if (foreign === undefined) return undefined;
  return errorReply('SENDER_NOT_OWNED', `From: address <${foreign}> not owned by ${user}`);
}

function notOwned(user: string): Reply {
  return errorReply('SENDER_NOT_OWNED', `Sender address not owned by ${user}`);
}

function rateLimited(exceeded: Exceeded): Reply {
  return errorReply('RATE_LIMITED', describeExceeded(exceeded));
}

function senderOf(session: SessionInfo): Sender {
  return { ip: session.remoteAddress, ...(session.user === undefined ? {} : { user: session.user }) };
}

/** RFC 8601 auth=pass with the submitting user (RFC 7001 smtp.auth), then what the checks found. */
function authResults(deps: SubmissionDeps, session: SessionInfo): string {
  const auth: CheckResult = { result: 'pass', props: { 'smtp.auth': session.user ?? '' } };
  return formatAuthResults(deps.hostname(), [['auth', auth], ...deps.policy.allResults(session)]);
}

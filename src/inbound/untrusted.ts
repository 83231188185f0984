import type { Reply } from '../core/reply.js';
import { errorReply } from '../core/reply.js';
import type { SmtpHandlers, Transaction } from '../protocol/smtp/types.js';
import type { User } from '../queue/store/types.js';
import { enqueueMessage, type InboundDeps, mxHandlers, verdictHeaderText } from './mx.js';
import type { Quarantine } from './policy.js';

/** What a user wants done with mail the untrusted MX could not authenticate. */
export const UNTRUSTED_CHOICES = ['junk', 'inbox', 'refuse'] as const;
export type UntrustedChoice = (typeof UNTRUSTED_CHOICES)[number];

/** The user setting that holds the choice (`outpost user set ADDRESS untrusted=inbox`). */
export const UNTRUSTED_SETTING = 'untrusted';

const DEFAULT_CHOICE: UntrustedChoice = 'junk';

export function isUntrustedChoice(value: string): value is UntrustedChoice {
  return (UNTRUSTED_CHOICES as readonly string[]).includes(value);
}

/** A user's choice; Junk for users without one (and for postmaster, who has no user record). */
export function untrustedChoice(user: Pick<User, 'settings'> | undefined): UntrustedChoice {
  const value = user?.settings[UNTRUSTED_SETTING];
  return value !== undefined && isUntrustedChoice(value) ? value : DEFAULT_CHOICE;
}

/** Where a message goes for a recipient with this choice: a folder (absent = INBOX), or refused. */
export interface UntrustedDisposition {
  folder?: string;
  refuse?: boolean;
}

/** The disposition of a message for one recipient; mail that was not quarantined always goes to INBOX. */
export function untrustedDisposition(choice: UntrustedChoice, quarantined: boolean): UntrustedDisposition {
  if (!quarantined || choice === 'inbox') return {};
  return choice === 'refuse' ? { refuse: true } : { folder: 'Junk' };
}

/** The choice every recipient of a transaction shares (set by its first accepted recipient). */
const transactionChoices = new WeakMap<Transaction, UntrustedChoice>();

function refusal(quarantine: Quarantine): Reply {
  const why = (quarantine.reason ?? `${quarantine.by} check`).replace(/[\p{Cc}]+/gu, ' ');
  return { code: 550, enhanced: '5.7.1', text: `Recipient refuses mail that is not authenticated: ${why}` };
}

/**
 * The untrusted MX profile: the plain MX handlers, with each recipient's choice for quarantined
 * mail. The verdict is known only after DATA, which has one reply for all recipients, so every
 * transaction holds recipients of one choice: a recipient whose choice differs from the first one's
 * gets 452 4.5.3 and the client sends it in another transaction (RFC 5321 4.5.3.1.10). A refusing
 * transaction that was quarantined then gets 550 5.7.1 at end of data: no silent drop, no bounce.
 */
export function mxUntrustedHandlers(deps: InboundDeps): SmtpHandlers {
  const base = mxHandlers(deps);
  const choiceOf = async (address: string) =>
    untrustedChoice(await deps.store.getUser(deps.recipients.route(address).address));
  return {
    ...base,
    async rcptTo(session, tx, rcpt) {
      const refused = await base.rcptTo(session, tx, rcpt);
      if (refused !== undefined && refused.code >= 400) return refused;
      const choice = await choiceOf(rcpt.address);
      const shared = transactionChoices.get(tx);
      if (shared === undefined) transactionChoices.set(tx, choice);
      else if (shared !== choice) return errorReply('TOO_MANY_RECIPIENTS');
      return refused;
    },
    async data(session, tx, message) {
      const refusedByPolicy = await deps.policy.run('data', session, { tx, message });
      if (refusedByPolicy) return refusedByPolicy;
      const quarantine = deps.policy.quarantine(session);
      const disposition = untrustedDisposition(
        transactionChoices.get(tx) ?? DEFAULT_CHOICE,
        quarantine !== undefined,
      );
      if (disposition.refuse === true && quarantine !== undefined) return refusal(quarantine);
      return enqueueMessage(deps, session, tx, message, {
        ...(disposition.folder === undefined ? {} : { folder: disposition.folder }),
        extraHeaders: verdictHeaderText(deps, session, quarantine),
        quarantined: quarantine !== undefined,
      });
    },
  };
}

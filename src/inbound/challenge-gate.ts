// Where challenge/response meets the MX: tagged addresses at RCPT, confirmations, and the per-recipient
// decision (deliver, hold, Junk) at DATA. The decisions themselves live in src/challenge.
import { senderAuthenticated } from '../challenge/authenticated.js';
import { parseTaggedAddress } from '../challenge/cookies.js';
import type { ChallengeService } from '../challenge/service.js';
import { userOfTaggedAddress } from '../challenge/tagged.js';
import { isOutpostError } from '../core/errors.js';
import { type Reply, reply } from '../core/reply.js';
import type { SessionInfo, Transaction } from '../protocol/smtp/types.js';
import type { ListenerPolicy } from './policy.js';
import type { LocalRecipients } from './recipients.js';

const CONFIRMED_KEY = 'challengeConfirmed';

/** The recipient addresses of this session's transaction that were confirmations, not mail. */
export function confirmedRecipients(session: SessionInfo): Set<string> {
  const existing = session.state[CONFIRMED_KEY];
  if (existing instanceof Set) return existing as Set<string>;
  const created = new Set<string>();
  session.state[CONFIRMED_KEY] = created;
  return created;
}

/**
 * Checks a local recipient: a mailbox, or a tagged address of one (dated, sender, keyword), or a
 * confirm address answering one of our challenges (answered here, never queued). Throws NO_SUCH_USER.
 */
export async function acceptLocalRecipient(
  recipients: LocalRecipients,
  challenges: ChallengeService | undefined,
  session: SessionInfo,
  tx: Transaction,
  address: string,
): Promise<Reply | undefined> {
  try {
    await recipients.requireMailbox(address);
    return undefined;
  } catch (error) {
    if (!challenges || !isOutpostError(error) || error.code !== 'NO_SUCH_USER') throw error;
    if (parseTaggedAddress(address)?.tag === 'confirm') {
      const outcome = await challenges.confirmByAddress(address, tx.from);
      if (outcome.kind === 'invalid') throw error;
      confirmedRecipients(session).add(address);
      return reply(250, '2.1.5', 'Confirmation received, held mail released');
    }
    const user = userOfTaggedAddress(address);
    if (user === undefined) throw error;
    await recipients.requireMailbox(user);
    return undefined;
  }
}

export type ChallengeDisposition = { kind: 'deliver' } | { kind: 'hold'; user: string } | { kind: 'junk' };

/** Whether one local recipient gets the message now, after a challenge, or in Junk. */
export async function challengeDisposition(
  challenges: ChallengeService,
  policy: ListenerPolicy,
  session: SessionInfo,
  tx: Transaction,
  recipientAddress: string,
  message: Buffer,
): Promise<ChallengeDisposition> {
  const user = userOfTaggedAddress(recipientAddress) ?? recipientAddress;
  const decision = await challenges.decide({
    user,
    sender: tx.from,
    headers: message,
    authenticated: senderAuthenticated(policy.allResults(session), tx.from),
    recipientAddress,
  });
  if (decision.action === 'hold') return { kind: 'hold', user };
  return decision.action === 'junk' ? { kind: 'junk' } : { kind: 'deliver' };
}

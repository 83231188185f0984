// Where forwarding meets the MX: SRS bounce addresses at RCPT, and alias expansion at DATA
// (the forwarded copy is a queue message of its own, with an SRS sender and our ARC seal).
import type { Forwarding } from '../forward/forwarding.js';
import type { ForwardCopy } from '../forward/plan.js';
import type { SessionInfo, Transaction } from '../protocol/smtp/types.js';
import type { ListenerPolicy } from './policy.js';
import type { LocalRecipients, RecipientRoute } from './recipients.js';

export interface Expansion {
  /** Where the message goes for this recipient (itself, a bounce's original sender, local alias targets). */
  routes: RecipientRoute[];
  /** Forwarded copies for remote alias targets. */
  copies: ForwardCopy[];
}

/** One recipient after aliases and SRS bounce addresses are resolved. */
export async function expandRecipient(
  forwarding: Forwarding | undefined,
  deps: { recipients: LocalRecipients; policy: ListenerPolicy },
  session: SessionInfo,
  tx: Transaction,
  body: Buffer,
  address: string,
): Promise<Expansion> {
  const route = deps.recipients.route(address);
  if (!forwarding || route.kind !== 'local') return { routes: [route], copies: [] };
  const redirect = await forwarding.redirect(address, route.address);
  if (redirect === undefined) return { routes: [route], copies: [] };
  if (redirect.kind === 'bounce') return { routes: [deps.recipients.route(redirect.to)], copies: [] };
  const plan = await forwarding.planAlias({
    alias: route.address,
    rule: redirect.rule,
    sender: tx.from,
    message: body,
    results: deps.policy.allResults(session),
  });
  const routes = plan.localTargets.map((target) => deps.recipients.route(target));
  if (redirect.rule.keep) routes.unshift(route);
  return { routes, copies: plan.copy ? [plan.copy] : [] };
}

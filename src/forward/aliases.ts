import type { User } from '../queue/store/types.js';

/** User setting holding an alias's forwarding targets, comma-separated. */
export const FORWARD_SETTING = 'forward';
/** User setting: "yes" keeps a copy in the local mailbox as well as forwarding. */
export const FORWARD_KEEP_SETTING = 'forward_keep';
/** User setting: "yes" when the row exists only as an alias (made by `outpost alias add`, no mailbox of its own). */
export const FORWARD_ONLY_SETTING = 'forward_only';

/** Where mail for one local address goes besides (or instead of) its mailbox. */
export interface ForwardRule {
  targets: string[];
  /** Deliver a copy to the local mailbox too. */
  keep: boolean;
}

/** The comma-separated targets of the forward setting, empty entries dropped. */
export function parseForwardTargets(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** The forwarding rule stored in a user's settings; undefined when the address forwards nowhere. */
export function forwardRuleOf(user: Pick<User, 'settings'> | undefined): ForwardRule | undefined {
  const targets = parseForwardTargets(user?.settings[FORWARD_SETTING]);
  if (user === undefined || targets.length === 0) return undefined;
  return { targets, keep: user.settings[FORWARD_KEEP_SETTING] === 'yes' };
}

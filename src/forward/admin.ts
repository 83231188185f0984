// Managing aliases (the CLI calls these): an alias is a user row whose settings say where its
// mail goes, so the MX sees it as an existing recipient without a schema of its own.
import { domainOf, parseAddress } from '../core/address.js';
import type { Store, User } from '../queue/store/types.js';
import {
  FORWARD_KEEP_SETTING,
  FORWARD_ONLY_SETTING,
  FORWARD_SETTING,
  type ForwardRule,
  forwardRuleOf,
} from './aliases.js';

/** A mistake in what the operator asked for; the message says which. */
export class AliasError extends Error {}

/** An address as stored: local part and domain lower-cased; throws AliasError when it is none. */
export function normalizeAliasAddress(text: string): string {
  const parsed = parseAddress(text);
  if (!parsed) throw new AliasError(`"${text}" is not an address like alice@example.org`);
  return `${parsed.local.toLowerCase()}@${parsed.domain.toLowerCase()}`;
}

function withoutForwarding(settings: Record<string, string>): Record<string, string> {
  const {
    [FORWARD_SETTING]: _targets,
    [FORWARD_KEEP_SETTING]: _keep,
    [FORWARD_ONLY_SETTING]: _only,
    ...rest
  } = settings;
  return rest;
}

function forwardSettings(
  user: User | undefined,
  targets: readonly string[],
  keep: boolean,
): Record<string, string> {
  return {
    ...withoutForwarding(user?.settings ?? {}),
    [FORWARD_SETTING]: targets.join(','),
    ...(keep ? { [FORWARD_KEEP_SETTING]: 'yes' } : {}),
    ...(user === undefined || user.settings[FORWARD_ONLY_SETTING] === 'yes'
      ? { [FORWARD_ONLY_SETTING]: 'yes' }
      : {}),
  };
}

/**
 * Adds targets to the alias `local` (one of `domains`), making it when it does not exist. An
 * existing mailbox keeps its mailbox and settings; `keep` says whether it still gets a copy. A
 * new alias has no mailbox, so `keep` is refused for it (add the mailbox with `outpost user add`).
 */
export async function addAlias(
  store: Store,
  domains: readonly string[],
  localText: string,
  targetTexts: readonly string[],
  keep: boolean,
): Promise<ForwardRule> {
  const local = normalizeAliasAddress(localText);
  if (!domains.map((d) => d.toLowerCase()).includes(domainOf(local))) {
    throw new AliasError(`${local}: domain is not one of ours (domains = [${domains.join(', ')}])`);
  }
  const targets = targetTexts.map(normalizeAliasAddress);
  if (targets.length === 0) throw new AliasError('name at least one target address');
  if (targets.includes(local)) throw new AliasError(`${local} cannot forward to itself (use --keep)`);
  const user = await store.getUser(local);
  const isMailbox = user !== undefined && user.settings[FORWARD_ONLY_SETTING] !== 'yes';
  if (keep && !isMailbox) throw new AliasError(`${local} has no mailbox to keep a copy in`);
  const existing = forwardRuleOf(user)?.targets ?? [];
  const merged = [...existing, ...targets.filter((t) => !existing.includes(t))];
  const settings = forwardSettings(user, merged, keep);
  if (user === undefined) await store.addUser({ address: local, settings, createdAt: Date.now() });
  else await store.updateUser(local, { settings });
  return { targets: merged, keep };
}

/**
 * Removes targets from an alias (all of them when none are named). When no target is left, a row
 * that was only an alias goes away; a mailbox stays, without forwarding. Returns what is left.
 */
export async function removeAlias(
  store: Store,
  localText: string,
  targetTexts: readonly string[],
): Promise<ForwardRule | undefined> {
  const local = normalizeAliasAddress(localText);
  const user = await store.getUser(local);
  const rule = forwardRuleOf(user);
  if (user === undefined || rule === undefined) throw new AliasError(`${local} forwards nowhere`);
  const removed = targetTexts.map(normalizeAliasAddress);
  const unknown = removed.filter((t) => !rule.targets.includes(t));
  if (unknown.length > 0) throw new AliasError(`${local} does not forward to ${unknown.join(', ')}`);
  const left = removed.length === 0 ? [] : rule.targets.filter((t) => !removed.includes(t));
  if (left.length > 0) {
    await store.updateUser(local, { settings: forwardSettings(user, left, rule.keep) });
    return { targets: left, keep: rule.keep };
  }
  if (user.settings[FORWARD_ONLY_SETTING] === 'yes') await store.removeUser(local);
  else await store.updateUser(local, { settings: withoutForwarding(user.settings) });
  return undefined;
}

/** Every address that forwards, with its rule, in address order. */
export async function listAliases(store: Store): Promise<{ address: string; rule: ForwardRule }[]> {
  const aliases: { address: string; rule: ForwardRule }[] = [];
  for (const user of await store.listUsers()) {
    const rule = forwardRuleOf(user);
    if (rule !== undefined) aliases.push({ address: user.address, rule });
  }
  return aliases.sort((a, b) => a.address.localeCompare(b.address));
}

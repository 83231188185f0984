import { domainOf } from '../core/address.js';
import { OutpostError } from '../core/errors.js';
import type { DkimSigningKey } from '../dkim/keys.js';
import type { CheckResult } from '../pipeline/check.js';
import type { Store } from '../queue/store/types.js';
import { isSrsAddress } from '../srs/srs.js';
import { type ForwardRule, forwardRuleOf } from './aliases.js';
import { arcSealingKey, type ForwardCopy, planForwards, srsRecipient } from './plan.js';
import { loadSrsSecrets } from './secret.js';

export interface ForwardingOptions {
  /** The data directory: the SRS secret lives in `<dataDir>/srs.key`. */
  dataDir: string;
  hostname: () => string;
  /** The DKIM signing keys (loadDkimKeys); the host name's key seals forwarded mail. */
  keys: ReadonlyMap<string, readonly DkimSigningKey[]>;
  users: Pick<Store, 'getUser'>;
  isLocalDomain: (domain: string) => boolean;
  now?: () => number;
}

/** What happens to one local recipient instead of (or besides) plain local delivery. */
export type Redirect =
  /** A bounce to one of our SRS addresses: deliver it to the reversed address instead. */
  | { kind: 'bounce'; to: string }
  /** An alias: forward copies to its targets; `rule.keep` says whether its own mailbox gets one too. */
  | { kind: 'alias'; rule: ForwardRule };

/** The mail one alias sends on: a forward copy for its remote targets, and its local targets. */
export interface AliasPlan {
  copy?: ForwardCopy;
  localTargets: string[];
}

function localPartOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

/**
 * Forwarding for the MX: aliases that send mail on (SRS-rewritten and ARC-sealed), and bounces to
 * our SRS addresses. The SRS secret is read (made on first use) once.
 */
export class Forwarding {
  private secrets: Promise<string[]> | undefined;

  constructor(private readonly options: ForwardingOptions) {}

  private srsSecrets(): Promise<string[]> {
    this.secrets ??= loadSrsSecrets(this.options.dataDir);
    return this.secrets;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * RCPT for an address at one of our domains: undefined when it is no SRS address (route it as
   * usual); the address the bounce goes to when it is one that verifies; NO_SUCH_USER (550 5.1.1)
   * when it is an SRS address we did not make, was tampered with or is too old.
   */
  async bounceRecipient(address: string): Promise<string | undefined> {
    if (!isSrsAddress(localPartOf(address))) return undefined;
    const original = srsRecipient(address, await this.srsSecrets(), this.now());
    if (original === undefined) throw new OutpostError('NO_SUCH_USER', `invalid SRS address ${address}`);
    return original;
  }

  /** How a local recipient is redirected; `address` as the client wrote it (SRS hashes are case-sensitive), `local` as routed. */
  async redirect(address: string, local: string): Promise<Redirect | undefined> {
    const bounceTo = await this.bounceRecipient(address);
    if (bounceTo !== undefined) return { kind: 'bounce', to: bounceTo };
    const rule = forwardRuleOf(await this.options.users.getUser(local));
    return rule === undefined ? undefined : { kind: 'alias', rule };
  }

  /** The forward copy of a stored message for one alias, and the alias's targets at our own domains. */
  async planAlias(input: {
    alias: string;
    rule: ForwardRule;
    sender: string;
    message: Buffer;
    results: ReadonlyMap<string, CheckResult>;
  }): Promise<AliasPlan> {
    const isLocal = (address: string) => this.options.isLocalDomain(domainOf(address));
    const remote = input.rule.targets.filter((target) => !isLocal(target));
    const localTargets = input.rule.targets.filter(isLocal);
    if (remote.length === 0) return { localTargets };
    const hostname = this.options.hostname();
    const copy = await planForwards({
      alias: input.alias,
      targets: remote,
      sender: input.sender,
      message: input.message,
      authservId: hostname,
      results: input.results,
      sealingKey: arcSealingKey(this.options.keys, hostname),
      secrets: await this.srsSecrets(),
      now: this.now(),
    });
    return { copy, localTargets };
  }
}

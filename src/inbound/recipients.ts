import { domainOf } from '../core/address.js';
import { OutpostError } from '../core/errors.js';
import type { Store } from '../queue/store/types.js';

/** Characters that route mail onward from inside a local part: percent hack, UUCP bang path, a quoted "@". */
const ROUTING_IN_LOCAL_PART = /[%!@]/;

/** Where a recipient address goes: one of our mailboxes, or nowhere we accept. */
export type RecipientRoute = { kind: 'local'; address: string } | { kind: 'remote'; address: string };

/**
 * Decides local vs remote for a recipient and checks that a local mailbox exists.
 * `<postmaster>` without a domain means the postmaster of our first domain (RFC 5321 4.5.1).
 */
export class LocalRecipients {
  constructor(
    private domains: ReadonlySet<string>,
    private readonly store: Store,
  ) {}

  setDomains(domains: ReadonlySet<string>): void {
    this.domains = domains;
  }

  isLocalDomain(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  normalize(address: string): string {
    if (address.toLowerCase() === 'postmaster') {
      const first = this.domains.values().next().value;
      return `postmaster@${first ?? 'localhost'}`;
    }
    const at = address.lastIndexOf('@');
    return at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
  }

  /**
   * Local or remote. An address in our domains whose local part still carries a route (the percent
   * hack `user%remote@ours`, a bang path `remote!user@ours`, a quoted `"user@remote"@ours`) throws
   * RELAY_DENIED: old mailers forwarded such mail onward, which made them open relays, and no
   * mailbox of ours is named like that. Source routes (`<@ours:user@remote>`) never get here: the
   * SMTP parser drops the route (RFC 5321 4.1.1.3), so they are plain remote addresses.
   */
  route(address: string): RecipientRoute {
    const normalized = this.normalize(address);
    if (!this.isLocalDomain(domainOf(normalized))) return { kind: 'remote', address: normalized };
    const localPart = normalized.slice(0, normalized.lastIndexOf('@'));
    if (ROUTING_IN_LOCAL_PART.test(localPart))
      throw new OutpostError('RELAY_DENIED', `routed local part: ${address}`);
    return { kind: 'local', address: normalized.toLowerCase() };
  }

  /** Throws NO_SUCH_USER unless a mailbox exists for this local address; postmaster always exists (RFC 5321 4.5.1). */
  async requireMailbox(address: string): Promise<void> {
    if (address.toLowerCase().startsWith('postmaster@')) return;
    const user = await this.store.getUser(address.toLowerCase());
    if (!user) throw new OutpostError('NO_SUCH_USER', address);
  }
}

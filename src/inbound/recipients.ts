import { domainOf } from '../core/address.js';
import { OutpostError } from '../core/errors.js';
import type { Store } from '../queue/store/types.js';

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

  route(address: string): RecipientRoute {
    const normalized = this.normalize(address);
    return this.isLocalDomain(domainOf(normalized))
      ? { kind: 'local', address: normalized.toLowerCase() }
      : { kind: 'remote', address: normalized };
  }

  /** Throws NO_SUCH_USER unless a mailbox exists for this local address; postmaster always exists (RFC 5321 4.5.1). */
  async requireMailbox(address: string): Promise<void> {
    if (address.toLowerCase().startsWith('postmaster@')) return;
    const user = await this.store.getUser(address.toLowerCase());
    if (!user) throw new OutpostError('NO_SUCH_USER', address);
  }
}

// The notice policy: whom this post office pulls from. The seed's two rules: the sender's post
// office has forward-confirmed reverse DNS under its domain, and (optionally) the domain is old.
import type { Logger } from '../core/log.js';
import { normalizeName } from '../dns/names.js';
import type { Resolver } from '../dns/types.js';
import { firstHostWithAddress, recordsOrEmpty } from '../pipeline/dns-view.js';
import { registrationDate } from './rdap.js';

/** The post office a notice asks us to pull from. */
export interface SenderPostOffice {
  /** The fetch host (an SRV target of `domain`). */
  host: string;
  /** The address the pull connects to. */
  ip: string;
  /** The sender's domain. */
  domain: string;
}

/** Accept or refuse a sender's post office; throws when it cannot decide (DNS or RDAP down). */
export type NoticePolicy = (senderPostOffice: SenderPostOffice) => Promise<'accept' | 'refuse'>;

export interface NoticePolicyOptions {
  dns: Resolver;
  /** Refuse unless a PTR name of the ip resolves back to it and lies under the domain (default true). */
  requireFcrdns?: boolean;
  /** Refuse domains registered less than this long ago (RDAP); undefined = no age rule. */
  minDomainAgeMs?: number;
  /** RDAP base URL, e.g. https://rdap.example/ (the domain is asked at <base>/domain/<name>). */
  rdapBaseUrl?: string;
  now?: () => number;
  logger?: Logger;
}

function under(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

/** The forward-confirmed PTR name of ip that lies under domain, if any (the fcrdns check's rule). */
export async function confirmedNameUnder(
  dns: Resolver,
  ip: string,
  domain: string,
): Promise<string | undefined> {
  const wanted = normalizeName(domain);
  const names = (await recordsOrEmpty(dns.reverse(ip)))
    .map(normalizeName)
    .filter((name) => under(name, wanted));
  if (names.length === 0) return undefined;
  return firstHostWithAddress(dns, names.slice(0, 10), ip);
}

export function createNoticePolicy(options: NoticePolicyOptions): NoticePolicy {
  const now = options.now ?? Date.now;
  const requireFcrdns = options.requireFcrdns ?? true;
  if (options.minDomainAgeMs !== undefined && options.rdapBaseUrl === undefined) {
    throw new Error('notice policy: a minimum domain age needs an RDAP server (rdapBaseUrl)');
  }
  return async (sender) => {
    const refuse = (reason: string): 'refuse' => {
      options.logger?.info({ ...sender, reason }, 'im2000 notice refused by policy');
      return 'refuse';
    };
    if (requireFcrdns && (await confirmedNameUnder(options.dns, sender.ip, sender.domain)) === undefined) {
      return refuse(`no forward-confirmed reverse DNS for ${sender.ip} under ${sender.domain}`);
    }
    if (options.minDomainAgeMs !== undefined && options.rdapBaseUrl !== undefined) {
      const registered = await registrationDate(options.rdapBaseUrl, sender.domain);
      if (registered === undefined) return refuse(`RDAP knows no registration date of ${sender.domain}`);
      if (now() - registered < options.minDomainAgeMs) {
        return refuse(`${sender.domain} registered ${new Date(registered).toISOString()}, too young`);
      }
    }
    return 'accept';
  };
}

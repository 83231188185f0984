// Where mail for a domain goes (RFC 5321 section 5.1, RFC 7505): MX hosts by preference with equal
// preferences shuffled, the domain itself when it has no MX, nowhere when it publishes a null MX.
import { isIP } from 'node:net';
import { isDnsError, isNoRecords, type Resolver } from '../../dns/types.js';

/** One host to try, in order. `addresses` is filled for address literals, looked up otherwise. */
export interface RouteHost {
  name: string;
  preference: number;
  addresses?: string[];
}

export type Route =
  | { kind: 'hosts'; hosts: RouteHost[] }
  /** RFC 7505: the domain says it accepts no mail. */
  | { kind: 'null-mx' }
  /** Neither MX nor address records: the domain cannot receive mail. */
  | { kind: 'no-host'; detail: string }
  /** DNS did not answer properly; try again later. */
  | { kind: 'dns-error'; detail: string };

/** Shuffles in place (Fisher-Yates) with the given source of randomness in [0, 1). */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

/** RFC 5321 5.1: ascending preference; hosts of equal preference in random order to spread load. */
export function orderExchanges(hosts: readonly RouteHost[], random: () => number = Math.random): RouteHost[] {
  const byPreference = new Map<number, RouteHost[]>();
  for (const host of hosts)
    byPreference.set(host.preference, [...(byPreference.get(host.preference) ?? []), host]);
  return [...byPreference.keys()]
    .sort((a, b) => a - b)
    .flatMap((preference) => shuffle(byPreference.get(preference) ?? [], random));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` as a plain address, or undefined when not a literal. */
export function addressLiteral(domain: string): string | undefined {
  if (!domain.startsWith('[') || !domain.endsWith(']')) return undefined;
  const inner = domain.slice(1, -1).replace(/^IPv6:/i, '');
  return isIP(inner) === 0 ? undefined : inner;
}

/** The route for a recipient domain. Never throws: DNS trouble is a 'dns-error' route. */
export async function routeFor(
  domain: string,
  resolver: Resolver,
  random: () => number = Math.random,
): Promise<Route> {
  const literal = addressLiteral(domain);
  if (literal !== undefined)
    return { kind: 'hosts', hosts: [{ name: domain, preference: 0, addresses: [literal] }] };
  let exchanges: { exchange: string; priority: number }[];
  try {
    exchanges = await resolver.resolveMx(domain);
  } catch (error) {
    if (!isNoRecords(error)) return { kind: 'dns-error', detail: describe(error) };
    exchanges = [];
  }
  // RFC 7505 3: a null MX is a single record with exchange "." (our resolver gives "" for the root).
  const isNull = (exchange: string): boolean => exchange === '' || exchange === '.';
  if (exchanges.length === 1 && exchanges.some((mx) => isNull(mx.exchange))) return { kind: 'null-mx' };
  const hosts = exchanges
    .filter((mx) => !isNull(mx.exchange))
    .map((mx) => ({ name: mx.exchange.replace(/\.$/, ''), preference: mx.priority }));
  if (hosts.length > 0) return { kind: 'hosts', hosts: orderExchanges(hosts, random) };
  // RFC 5321 5.1: no MX records, so the domain itself is the host (its A/AAAA records).
  const addresses = await addressesOf(domain, resolver);
  if ('error' in addresses) return { kind: 'dns-error', detail: addresses.error };
  if (addresses.list.length === 0)
    return { kind: 'no-host', detail: `${domain} has no MX and no address records` };
  return { kind: 'hosts', hosts: [{ name: domain, preference: 0, addresses: addresses.list }] };
}

/**
 * IPv4 then IPv6 addresses of a host. An error is reported only when no address was found and at
 * least one lookup failed for another reason than "no such records".
 */
export async function addressesOf(
  host: string,
  resolver: Resolver,
): Promise<{ list: string[] } | { error: string }> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const list = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (list.length > 0) return { list };
  const failure = [v4, v6].find(
    (outcome): outcome is PromiseRejectedResult =>
      outcome.status === 'rejected' && !isNoRecords(outcome.reason),
  );
  if (failure !== undefined)
    return { error: isDnsError(failure.reason) ? failure.reason.message : describe(failure.reason) };
  return { list: [] };
}

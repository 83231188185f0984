import { isIPv4 } from 'node:net';
import { normalizeName } from '../dns/names.js';
import type { MxRecord, RecordType, Resolver, SrvRecord } from '../dns/types.js';
import { isNoRecords } from '../dns/types.js';
import { sameIp } from './ip.js';

/** Lookups one message (or one session's connect and helo stages) may make across all its checks. */
export const DEFAULT_MESSAGE_DNS_BUDGET = 40;

/** A resolver that can hand out budgeted views (createResolver in src/dns/resolver.ts). */
export interface BudgetedResolverSource {
  withBudget(lookups: number): Resolver;
}

/** Shares one promise per key, so concurrent and repeated identical lookups cost one query. */
class OncePerKey<T> {
  readonly #promises = new Map<string, Promise<T>>();

  get(key: string, lookup: () => Promise<T>): Promise<T> {
    const known = this.#promises.get(key);
    if (known !== undefined) return known;
    const started = lookup();
    this.#promises.set(key, started);
    return started;
  }
}

/**
 * The DNS view the checks of one message share: `resolver.withBudget(budget)` (the resolver's TTL
 * cache, a lookup budget across every check) plus a per-message memo, so a name and type is asked
 * once per message even when several checks need it (fcrdns and server-signature both want the PTR,
 * dnsbl and rttl may share a zone) and a repeated answer does not spend the budget twice.
 * Failures are shared too: a name that timed out for one check is a timeout for all of them.
 */
export function createMessageDns(
  source: BudgetedResolverSource,
  budget: number = DEFAULT_MESSAGE_DNS_BUDGET,
): Resolver {
  const dns = source.withBudget(budget);
  const generic = new OncePerKey<unknown[]>();
  const names = new OncePerKey<string[]>();
  const mx = new OncePerKey<MxRecord[]>();
  const txt = new OncePerKey<string[][]>();
  const srv = new OncePerKey<SrvRecord[]>();
  const key = (type: string, name: string) => `${type} ${normalizeName(name)}`;
  return {
    resolve: (name: string, type: RecordType) => generic.get(key(type, name), () => dns.resolve(name, type)),
    resolve4: (name) => names.get(key('A', name), () => dns.resolve4(name)),
    resolve6: (name) => names.get(key('AAAA', name), () => dns.resolve6(name)),
    resolveMx: (name) => mx.get(key('MX', name), () => dns.resolveMx(name)),
    resolveTxt: (name) => txt.get(key('TXT', name), () => dns.resolveTxt(name)),
    resolvePtr: (name) => names.get(key('PTR', name), () => dns.resolvePtr(name)),
    resolveSrv: (name) => srv.get(key('SRV', name), () => dns.resolveSrv(name)),
    resolveCname: (name) => names.get(key('CNAME', name), () => dns.resolveCname(name)),
    reverse: (ip) => names.get(key('reverse', ip), () => dns.reverse(ip)),
  };
}

/** The records of a lookup, or [] when the name or the type does not exist; other errors propagate. */
export async function recordsOrEmpty<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (error) {
    if (isNoRecords(error)) return [];
    throw error;
  }
}

/** The A (IPv4 client) or AAAA (IPv6 client) records of a host; [] when it has none. */
export function addressesLike(dns: Resolver, host: string, clientIp: string): Promise<string[]> {
  return recordsOrEmpty(isIPv4(clientIp) ? dns.resolve4(host) : dns.resolve6(host));
}

/**
 * The first host, in the order given, that has `ip` among its addresses; undefined when none does.
 * All hosts are asked at once. A failed lookup matters only when no host matched: then it is thrown,
 * because the missing answer might have matched.
 */
export async function firstHostWithAddress(
  dns: Resolver,
  hosts: readonly string[],
  ip: string,
): Promise<string | undefined> {
  const settled = await Promise.allSettled(hosts.map((host) => addressesLike(dns, host, ip)));
  const matchIndex = settled.findIndex(
    (outcome) => outcome.status === 'fulfilled' && outcome.value.some((address) => sameIp(address, ip)),
  );
  if (matchIndex >= 0) return hosts[matchIndex];
  const failure = settled.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return undefined;
}

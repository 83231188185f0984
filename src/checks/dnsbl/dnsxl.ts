import { normalizeName, reverseName } from '../../dns/names.js';
import type { Resolver } from '../../dns/types.js';
import { recordsOrEmpty } from '../../pipeline/dns-view.js';
import { plainIp } from '../../pipeline/ip.js';

/**
 * RFC 5782 DNS lists, shared by block lists (dnsbl) and trust lists (rttl): the query name of an
 * address, the lookup, and the test points every list must answer.
 */

/** `<reversed octets or 32 nibbles>.<zone>`: 2.0.0.127.list.example for 127.0.0.2. */
export function dnsxlName(ip: string, zone: string): string {
  const reversed = reverseName(plainIp(ip)).replace(/\.(?:in-addr|ip6)\.arpa$/, '');
  return `${reversed}.${normalizeName(zone)}`;
}

/** The A records a list returns for an address; [] when it is not listed. DNS failures are thrown. */
export function queryDnsxl(dns: Resolver, ip: string, zone: string): Promise<string[]> {
  return recordsOrEmpty(dns.resolve4(dnsxlName(ip, zone)));
}

/** What a list's answer means to the caller: a listing, or not (including error codes). */
export type IsListing = (addresses: readonly string[]) => boolean;

/** The outcome of an RFC 5782 section 5 self-test of one list. */
export interface SelftestReport {
  zone: string;
  ok: boolean;
  /** One line per test point that misbehaved. */
  problems: string[];
}

// RFC 5782 section 5: each list must list its "2" test point and must not list its "1" test point.
const TEST_POINTS = {
  ipv4: { listed: '127.0.0.2', unlisted: '127.0.0.1' },
  ipv6: { listed: '::ffff:7f00:2', unlisted: '::ffff:7f00:1' },
} as const;

async function probe(dns: Resolver, ip: string, zone: string): Promise<string[] | Error> {
  try {
    // The IPv6 test points stay nibble names: plainIp unmaps only the dotted ::ffff:a.b.c.d form.
    return await queryDnsxl(dns, ip, zone);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Asks a list for its RFC 5782 test points (2.0.0.127.<zone> must be listed, 1.0.0.127.<zone> must
 * not; with `ipv6`, the ::ffff:7f00:2 and ::ffff:7f00:1 nibble names too). Operators run it after
 * configuring a list: a list that lists everything (a lapsed domain with a wildcard) or nothing
 * (a wrong zone name, a blocked querier) shows up here instead of in the mail flow.
 */
export async function selftestDnsxl(
  dns: Resolver,
  zone: string,
  isListing: IsListing,
  options: { ipv6?: boolean } = {},
): Promise<SelftestReport> {
  const points = options.ipv6 ? [TEST_POINTS.ipv4, TEST_POINTS.ipv6] : [TEST_POINTS.ipv4];
  const problems: string[] = [];
  for (const point of points) {
    const [listed, unlisted] = await Promise.all([
      probe(dns, point.listed, zone),
      probe(dns, point.unlisted, zone),
    ]);
    if (listed instanceof Error)
      problems.push(`test point ${point.listed}: lookup failed: ${listed.message}`);
    else if (!isListing(listed)) {
      const answer = listed.length === 0 ? 'no answer' : `answer ${listed.join(', ')}`;
      problems.push(`test point ${point.listed} must be listed, got ${answer}`);
    }
    if (unlisted instanceof Error)
      problems.push(`test point ${point.unlisted}: lookup failed: ${unlisted.message}`);
    else if (unlisted.length > 0) {
      problems.push(`test point ${point.unlisted} must not be listed, got answer ${unlisted.join(', ')}`);
    }
  }
  return { zone: normalizeName(zone), ok: problems.length === 0, problems };
}

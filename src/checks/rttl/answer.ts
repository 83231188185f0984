import { parseIp } from '../../pipeline/ip.js';

/** A trust list's A answer decoded: 127.0.<category>.<trust>. */
export type TrustAnswer =
  | { kind: 'listed'; address: string; category: number; trust: number }
  | { kind: 'blocked'; address: string }
  | { kind: 'invalid'; address: string };

/** "Querier blocked": the list refuses to answer us; never a listing. */
export const BLOCKED_ANSWER = '127.0.0.255';

const MIN_CATEGORY = 2;
const MAX_CATEGORY = 15;
const MAX_TRUST = 3;

// The dnswl.org category names; DESIGN.md names 2-6, the rest follow that convention.
const CATEGORY_NAMES: Record<number, string> = {
  2: 'financial services',
  3: 'email service provider',
  4: 'government',
  5: 'ISP',
  6: 'business',
};
const TRUST_NAMES = ['none', 'low', 'medium', 'high'] as const;

/** Decodes one A record of a trust list. */
export function decodeTrustAnswer(address: string): TrustAnswer {
  if (address === BLOCKED_ANSWER) return { kind: 'blocked', address };
  const ip = parseIp(address);
  if (ip?.family !== 4) return { kind: 'invalid', address };
  const [a, b, category = -1, trust = -1] = ip.bytes;
  if (a !== 127 || b !== 0 || category < MIN_CATEGORY || category > MAX_CATEGORY || trust > MAX_TRUST) {
    return { kind: 'invalid', address };
  }
  return { kind: 'listed', address, category, trust };
}

/** "category 3 (email service provider), trust 2 (medium)". */
export function describeListing(category: number, trust: number): string {
  const categoryName = CATEGORY_NAMES[category];
  return `category ${category}${categoryName ? ` (${categoryName})` : ''}, trust ${trust} (${TRUST_NAMES[trust] ?? 'unknown'})`;
}

/**
 * Whether a test point (RFC 5782: 2.0.0.127.<zone>) is listed: any 127/8 answer but the blocked and
 * 127.255.255.x error codes. Lenient on purpose, as lists answer their test point with 127.0.0.2 or
 * with a 127.0.c.t code; the point is to catch dead, blocked or wildcarded lists.
 */
export function isTestPointListed(addresses: readonly string[]): boolean {
  return addresses.some((address) => {
    const ip = parseIp(address);
    if (ip?.family !== 4 || ip.bytes[0] !== 127 || address === BLOCKED_ANSWER) return false;
    return !address.startsWith('127.255.255.');
  });
}

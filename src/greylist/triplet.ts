import { parseIp } from '../pipeline/ip.js';

/** The key greylisting remembers: the client's network, the envelope sender, the recipient. */
export interface Triplet {
  /** The client's network, e.g. "192.0.2.0/24" or "2001:db8:1:2::/64". */
  network: string;
  /** The normalized envelope sender ('' for the null sender). */
  sender: string;
  /** The recipient, lower-cased. */
  recipient: string;
}

/** How wide a network counts as one sender (big providers retry from another host of the same pool). */
export interface NetworkPrefixes {
  ipv4: number;
  ipv6: number;
}

/** Greylisting's usual grouping: an IPv4 /24, an IPv6 /64. */
export const DEFAULT_PREFIXES: NetworkPrefixes = { ipv4: 24, ipv6: 64 };

/** The triplet for one delivery attempt; throws when the client address is not an IP address. */
export function makeTriplet(
  clientIp: string,
  sender: string,
  recipient: string,
  prefixes: NetworkPrefixes = DEFAULT_PREFIXES,
): Triplet {
  return {
    network: networkOf(clientIp, prefixes),
    sender: normalizeSender(sender),
    recipient: recipient.toLowerCase(),
  };
}

/** The client's network in CIDR notation, host bits cleared. */
export function networkOf(clientIp: string, prefixes: NetworkPrefixes = DEFAULT_PREFIXES): string {
  const ip = parseIp(clientIp);
  if (ip === undefined) throw new Error(`not an IP address: ${clientIp}`);
  const prefix = ip.family === 4 ? prefixes.ipv4 : prefixes.ipv6;
  const bytes = ip.bytes.map((byte, i) => {
    const kept = Math.min(8, Math.max(0, prefix - i * 8));
    return byte & ((0xff << (8 - kept)) & 0xff);
  });
  if (ip.family === 4) return `${bytes.join('.')}/${prefix}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return `${compressIpv6(groups)}/${prefix}`;
}

/** RFC 5952 text: the longest run of two or more zero groups becomes '::'. */
function compressIpv6(groups: readonly string[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < groups.length; start++) {
    let length = 0;
    while (groups[start + length] === '0') length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/**
 * The sender as greylisting keys it (postgrey's rules): lower-cased, without a +extension or a BATV
 * tag (prvs=tag=user), numbers in the local part replaced by '#', so list mail with per-message
 * VERP or BATV senders is not greylisted again for every message.
 */
export function normalizeSender(sender: string): string {
  const at = sender.lastIndexOf('@');
  if (at < 0) return sender.toLowerCase();
  const domain = sender.slice(at + 1).toLowerCase();
  const local = sender
    .slice(0, at)
    .toLowerCase()
    .replace(/^prvs=[^=]*=/, '')
    .replace(/\+.*$/, '')
    .replace(/\b\d+\b/g, '#');
  return `${local}@${domain}`;
}

import { isIPv4, isIPv6 } from 'node:net';
import { ipv6Nibbles } from '../dns/names.js';

/**
 * Address blocks as a trust list keeps them: one canonical text per block ("192.0.2.0/24",
 * "2001:db8::/32", always with the prefix length), so the same network is never stored twice.
 */

/** An IPv4 or IPv6 address as bytes (4 or 16). */
export interface Address {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address block: address bytes with the host part zero and the prefix length. */
export interface Prefix extends Address {
  prefix: number;
}

/** A network: a block and its canonical text. */
export interface Network extends Prefix {
  text: string;
}

/** Why a text is not a network, or the network. */
export type NetworkParse = { ok: true; network: Network } | { ok: false; problem: string };

const DECIMAL_OCTET = /^(?:0|[1-9]\d{0,2})$/;
const PREFIX_DIGITS = /^(?:0|[1-9]\d{0,2})$/;

/** Parses a dotted-quad IPv4 or any IPv6 literal (zone ids refused); undefined otherwise. */
export function parseAddress(text: string): Address | undefined {
  if (isIPv4(text)) {
    const parts = text.split('.');
    if (!parts.every((part) => DECIMAL_OCTET.test(part))) return undefined;
    return { family: 4, bytes: Uint8Array.from(parts.map(Number)) };
  }
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const nibbles = ipv6Nibbles(text);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(nibbles.slice(i * 2, i * 2 + 2), 16);
  return { family: 6, bytes };
}

/** The text form: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as '::'). */
export function formatAddress(address: Address): string {
  const { bytes } = address;
  if (address.family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function maxPrefix(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** A copy of the bytes with every bit after `prefix` cleared. */
function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const masked = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.min(8, Math.max(0, prefix - i * 8));
    masked[i] = (bytes[i] ?? 0) & ((0xff00 >> bitsHere) & 0xff);
  }
  return masked;
}

/** The network of `prefix` bits holding an address. */
export function networkOf(address: Address, prefix: number): Network {
  const bytes = maskBytes(address.bytes, prefix);
  const network = { family: address.family, bytes, prefix };
  return { ...network, text: `${formatAddress(network)}/${prefix}` };
}

/**
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a single host). The host part must be
 * zero: "192.0.2.1/24" is refused naming the network meant, as rbldnsd does, to catch typos.
 */
export function parseNetwork(text: string): NetworkParse {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const address = parseAddress(addressText);
  if (!address) return { ok: false, problem: `'${text}' is not an IP address or network` };
  const limit = maxPrefix(address.family);
  let prefix = limit;
  if (slash !== -1) {
    const prefixText = trimmed.slice(slash + 1);
    prefix = Number(prefixText);
    if (!PREFIX_DIGITS.test(prefixText) || prefix > limit) {
      return { ok: false, problem: `'${text}': prefix length must be 0..${limit}` };
    }
  }
  const network = networkOf(address, prefix);
  if (!address.bytes.every((byte, i) => byte === network.bytes[i])) {
    return { ok: false, problem: `'${text}' has host bits set; the network is ${network.text}` };
  }
  return { ok: true, network };
}

/** True when the address lies inside the network (same family). */
export function contains(network: Network, address: Address): boolean {
  if (network.family !== address.family) return false;
  const masked = maskBytes(address.bytes, network.prefix);
  return masked.every((byte, i) => byte === network.bytes[i]);
}

/** The canonical texts of every network holding the address, most specific (/32, /128) first. */
export function coveringNetworks(address: Address): string[] {
  const texts: string[] = [];
  for (let prefix = maxPrefix(address.family); prefix >= 0; prefix--) {
    texts.push(networkOf(address, prefix).text);
  }
  return texts;
}

/** An IPv4 address as an unsigned 32-bit number. */
export function ipv4Number(bytes: Uint8Array): number {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}

/** The dotted quad of an unsigned 32-bit number. */
export function ipv4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** The first and last address of an IPv4 network, as numbers. */
export function ipv4Bounds(network: Prefix): { first: number; last: number } {
  const first = ipv4Number(network.bytes);
  const size = 2 ** (32 - network.prefix);
  return { first, last: first + size - 1 };
}

/** The fewest CIDR blocks covering first..last exactly (IPv4 numbers, inclusive). */
export function ipv4RangeToNetworks(first: number, last: number): Network[] {
  const blocks: Network[] = [];
  let start = first;
  while (start <= last) {
    let size = 1;
    // Grow while the block stays aligned on `start` and inside the range.
    while (size < 2 ** 32 && start % (size * 2) === 0 && start + size * 2 - 1 <= last) size *= 2;
    const prefix = 32 - Math.log2(size);
    const bytes = Uint8Array.of(start >>> 24, (start >>> 16) & 0xff, (start >>> 8) & 0xff, start & 0xff);
    blocks.push(networkOf({ family: 4, bytes }, prefix));
    start += size;
  }
  return blocks;
}

/** A sort key: family, address bytes, prefix; byte order equals numeric order. */
export function networkKey(network: Network): Buffer {
  const key = Buffer.alloc(18);
  key[0] = network.family;
  Buffer.from(network.bytes).copy(key, 1);
  key[17] = network.prefix;
  return key;
}

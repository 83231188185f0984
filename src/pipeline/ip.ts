import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address block, e.g. 192.0.2.0/24 or 2001:db8::/32. */
export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/**
 * The client address as checks should see it: an IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a
 * dual-stack socket reports for IPv4 peers) becomes plain IPv4; IPv6 is lower-cased.
 */
export function plainIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  return ip.toLowerCase();
}

/** Parses an IPv4 or IPv6 address; undefined for anything else. */
export function parseIp(text: string): IpBytes | undefined {
  return parseLiteral(plainIp(text));
}

function parseLiteral(ip: string): IpBytes | undefined {
  if (isIPv4(ip)) return { family: 4, bytes: Uint8Array.from(ip.split('.').map(Number)) };
  if (isIPv6(ip)) return { family: 6, bytes: ipv6Bytes(ip) };
  return undefined;
}

function ipv6Bytes(literal: string): Uint8Array {
  const [ip = ''] = literal.split('%'); // a zone id (fe80::1%eth0) is not part of the address
  // An embedded dotted quad (::ffff:1.2.3.4 style) becomes two hex groups first.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  let text = ip;
  if (dotted?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${ip.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...(tail === undefined ? [] : zeros), ...tailGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** True when both texts are the same address (2001:db8::1 equals 2001:0db8:0:0:0:0:0:1). */
export function sameIp(a: string, b: string): boolean {
  const left = parseIp(a);
  const right = parseIp(b);
  if (left === undefined || right === undefined || left.family !== right.family) return false;
  return left.bytes.every((byte, i) => byte === right.bytes[i]);
}

/** Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a host block); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const ip = parseLiteral(address);
  if (ip === undefined) return undefined;
  const maxPrefix = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefix: maxPrefix };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= maxPrefix ? { ...ip, prefix } : undefined;
}

/** True when the address lies inside the block (families must agree). */
export function inCidr(ip: string, block: Cidr): boolean {
  const parsed = parseIp(ip);
  if (parsed === undefined || parsed.family !== block.family) return false;
  const fullBytes = Math.floor(block.prefix / 8);
  for (let i = 0; i < fullBytes; i++) {
    if (parsed.bytes[i] !== block.bytes[i]) return false;
  }
  const remainingBits = block.prefix % 8;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return ((parsed.bytes[fullBytes] ?? 0) & mask) === ((block.bytes[fullBytes] ?? 0) & mask);
}

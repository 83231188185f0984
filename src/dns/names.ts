import { isIPv4, isIPv6 } from 'node:net';

/**
 * Domain names inside outpost are kept in one normal form: no trailing dot, ASCII letters in lower
 * case (DNS compares names ASCII-case-insensitively, RFC 4343), the root as ''. Labels may hold
 * any character but '.', so names such as '_rmx.example.test' or 'a b.test' are fine.
 */
const UPPER_ASCII = /[A-Z]/;
const UPPER_ASCII_ALL = /[A-Z]/g;
const NON_ASCII = /[\u0080-\uffff]/;

const MAX_LABEL_BYTES = 63;
/** 255 octets on the wire minus the root label and the first length octet. */
const MAX_NAME_BYTES = 253;

function lowerAscii(letter: string): string {
  return String.fromCharCode(letter.charCodeAt(0) + 32);
}

/** The normal form of a name: trailing dot removed, ASCII lower case; '.' becomes ''. */
export function normalizeName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return UPPER_ASCII.test(trimmed) ? trimmed.replace(UPPER_ASCII_ALL, lowerAscii) : trimmed;
}

/** Why a name cannot go on the wire, or undefined when it can. Pass it in normal form or with a dot. */
export function nameProblem(name: string, allowRoot = false): string | undefined {
  const body = name.endsWith('.') ? name.slice(0, -1) : name;
  if (body === '') return allowRoot ? undefined : 'empty name';
  const ascii = !NON_ASCII.test(body);
  if ((ascii ? body.length : Buffer.byteLength(body)) > MAX_NAME_BYTES) return 'name longer than 253 octets';
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('.', start);
    if (end === -1) end = body.length;
    if (end === start) return 'empty label';
    const labelBytes = ascii ? end - start : Buffer.byteLength(body.slice(start, end));
    if (labelBytes > MAX_LABEL_BYTES) return 'label longer than 63 octets';
    start = end + 1;
  }
  return undefined;
}

/** True when `name` equals `ancestor` or lies below it (both in normal form; '' is the root). */
export function isSubdomain(name: string, ancestor: string): boolean {
  if (ancestor === '') return true;
  if (name.length === ancestor.length) return name === ancestor;
  return name.endsWith(ancestor) && name.charCodeAt(name.length - ancestor.length - 1) === 46; // '.'
}

/** The name one label up ('a.b.c' -> 'b.c', 'c' -> ''), or undefined for the root. */
export function parentName(name: string): string | undefined {
  if (name === '') return undefined;
  const dot = name.indexOf('.');
  return dot === -1 ? '' : name.slice(dot + 1);
}

function withoutZoneId(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

function ipv4ToHextets(text: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = text.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

function groupsOf(part: string): string[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => (group.includes('.') ? ipv4ToHextets(group) : [group]));
}

/** The 32 lower-case hex digits of an IPv6 address (zone id ignored); throws on anything else. */
export function ipv6Nibbles(ip: string): string {
  const address = withoutZoneId(ip);
  if (!isIPv6(address)) throw new TypeError(`not an IPv6 address: ${ip}`);
  const gap = address.indexOf('::');
  const head = groupsOf(gap === -1 ? address : address.slice(0, gap));
  const tail = gap === -1 ? [] : groupsOf(address.slice(gap + 2));
  const zeros = new Array<string>(8 - head.length - tail.length).fill('0');
  return [...head, ...zeros, ...tail]
    .map((group) => group.padStart(4, '0'))
    .join('')
    .toLowerCase();
}

function reversedNibbles(nibbles: string): string {
  const labels: string[] = [];
  for (let i = nibbles.length - 1; i >= 0; i--) labels.push(nibbles.charAt(i));
  return labels.join('.');
}

function reversedOctets(ipv4: string, count: number): string {
  return ipv4.split('.').slice(0, count).reverse().join('.');
}

/** Full PTR name of an address: 'd.c.b.a.in-addr.arpa' or 32 nibbles + '.ip6.arpa'. Throws if not an IP. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${reversedOctets(ip, 4)}.in-addr.arpa`;
  return `${reversedNibbles(ipv6Nibbles(ip))}.ip6.arpa`;
}

/** Reverse name of the /24 holding an IPv4 address: 'c.b.a.in-addr.arpa' for a.b.c.d. */
export function reverseNetworkName24(ipv4: string): string {
  if (!isIPv4(ipv4)) throw new TypeError(`not an IPv4 address: ${ipv4}`);
  return `${reversedOctets(ipv4, 3)}.in-addr.arpa`;
}

/** Reverse name of the /64 holding an IPv6 address: its first 16 nibbles reversed + '.ip6.arpa'. */
export function reverseNetworkName64(ipv6: string): string {
  return `${reversedNibbles(ipv6Nibbles(ipv6).slice(0, 16))}.ip6.arpa`;
}

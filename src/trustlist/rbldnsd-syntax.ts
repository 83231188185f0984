/**
 * The pieces of rbldnsd's dataset syntax (rbldnsd(8), "DATASET TYPES AND FORMATS"), parsed the
 * way rbldnsd 1.0 parses them: IPv4 prefixes ("10.0", "10.0.0/24"), ranges ("10.0.0.1-255"),
 * A values (":2:" is 127.0.0.2) and TXT templates with `$`, `$n` and `$=` substitution.
 */

/** rbldnsd's whitespace is space and tab only (a CR stays part of the line). */
export function isSpace(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

/** '#' and ';' start comments. */
export function isComment(char: string | undefined): boolean {
  return char === '#' || char === ';';
}

export function skipSpace(text: string, at: number): number {
  let position = at;
  while (isSpace(text[position])) position++;
  return position;
}

/** A parsed IPv4 prefix: the address (as number), how many bits the text gave, where it ended. */
interface Prefix {
  value: number;
  bits: 8 | 16 | 24 | 32;
  end: number;
}

/** rbldnsd ip4prefix(): 1 to 4 decimal octets ("127", "127.0", ...), missing ones zero. */
function parsePrefix(text: string, at: number): Prefix | undefined {
  let value = 0;
  let position = at;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (text[position] !== '.')
        return { value: value >>> 0, bits: (octet * 8) as Prefix['bits'], end: position };
      position++;
    }
    const start = position;
    let number = 0;
    while (/[0-9]/.test(text[position] ?? '')) {
      number = number * 10 + Number(text[position]);
      if (number > 255) return undefined;
      position++;
    }
    if (position === start) return undefined;
    value += number * 2 ** (24 - octet * 8);
  }
  return { value: value >>> 0, bits: 32, end: position };
}

function parseMaskBits(text: string, at: number): { bits: number; end: number } | undefined {
  const match = /^[0-9]+/.exec(text.slice(at));
  if (!match) return undefined;
  const bits = Number(match[0]);
  return bits > 32 ? undefined : { bits, end: at + match[0].length };
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** An IPv4 CIDR as ip4trie reads it ("10.0.0/24", "10.0.0" = /24; a bare "10" is refused). */
export function parseIpv4Cidr(
  text: string,
  at: number,
): { value: number; bits: number; end: number } | undefined {
  const prefix = parsePrefix(text, at);
  if (!prefix) return undefined;
  if (text[prefix.end] === '/') {
    const maskBits = parseMaskBits(text, prefix.end + 1);
    return maskBits ? { value: prefix.value, bits: maskBits.bits, end: maskBits.end } : undefined;
  }
  return prefix.bits === 8 ? undefined : { value: prefix.value, bits: prefix.bits, end: prefix.end };
}

/**
 * An IPv4 range as ip4set reads it: a CIDR or prefix (`bits` set, first address possibly with
 * host bits), or "a-b" where b may be a shorter suffix ("10.0.0.1-255"); the last address of a
 * prefix range is completed with ones.
 */
export function parseIpv4Range(
  text: string,
  at: number,
): { first: number; last: number; bits: number | undefined; end: number } | undefined {
  const start = parsePrefix(text, at);
  if (!start) return undefined;
  if (text[start.end] === '-') {
    const stop = parsePrefix(text, start.end + 1);
    if (!stop) return undefined;
    let last = stop.value;
    let lastBits: number = stop.bits;
    if (stop.bits === 8) {
      // "127.0.0.1-2" is 127.0.0.1-127.0.0.2: the suffix replaces the last given octet.
      last = ((stop.value >>> (start.bits - 8)) | (start.value & mask(start.bits - 8))) >>> 0;
      lastBits = start.bits;
    } else if (stop.bits !== start.bits) return undefined;
    if (lastBits !== 32) last = (last | ~mask(lastBits)) >>> 0;
    if (start.value > last) return undefined;
    return { first: start.value, last, bits: undefined, end: stop.end };
  }
  let bits: number = start.bits;
  let end = start.end;
  if (text[start.end] === '/') {
    const maskBits = parseMaskBits(text, start.end + 1);
    if (!maskBits) return undefined;
    bits = maskBits.bits;
    end = maskBits.end;
  } else if (start.bits === 8) return undefined;
  return { first: start.value, last: (start.value | ~mask(bits)) >>> 0, bits, end };
}

/** An entry's value: the A address and the TXT template (undefined: no TXT). */
export interface RbldnsdValue {
  a: number;
  txt: string | undefined;
}

/** rbldnsd's built-in default: 127.0.0.2 and no TXT. */
export const BUILTIN_DEFAULT: RbldnsdValue = { a: 0x7f000002, txt: undefined };
const MAX_RAW_TXT = 255;

/** rbldnsd ip4addr(): "2" is 2, "127.1" is 127.0.0.1, "127.0.1" is 127.0.0.1. */
function parseARecord(text: string, at: number): { value: number; bits: number; end: number } | undefined {
  const prefix = parsePrefix(text, at);
  if (!prefix) return undefined;
  let value = prefix.value;
  if (prefix.bits === 8) value = value >>> 24;
  else if (prefix.bits === 16) value = ((value & 0xff000000) | ((value >>> 16) & 0xff)) >>> 0;
  else if (prefix.bits === 24) value = ((value & 0xffff0000) | ((value >>> 8) & 0xff)) >>> 0;
  return { value: value >>> 0, bits: prefix.bits, end: prefix.end };
}

/**
 * rbldnsd parse_a_txt(): ":A:TXT", ":A:" (no TXT), ":A" (the default's TXT) or "TXT" (the
 * default's A). A one-number A is 127.0.0.<n>. Returns a problem text on failure.
 */
export function parseValue(text: string, fallback: RbldnsdValue): RbldnsdValue | string {
  let txt: string;
  let a = fallback.a;
  if (text.startsWith(':')) {
    const parsed = parseARecord(text, 1);
    if (!parsed || parsed.value === 0) return 'invalid A value';
    a = parsed.bits === 8 ? (0x7f000000 | parsed.value) >>> 0 : parsed.value;
    const after = skipSpace(text, parsed.end);
    if (text[after] === ':') txt = text.slice(skipSpace(text, after + 1));
    else if (after < text.length) return 'unrecognized value after the A address';
    else return { a, txt: fallback.txt };
  } else txt = text;
  if (txt.length > MAX_RAW_TXT) txt = txt.slice(0, MAX_RAW_TXT);
  return { a, txt: txt === '' ? undefined : txt };
}

/** A piece of an expanded TXT: literal text, or the address asked about. */
export type TxtPiece = { literal: string } | 'address';

/**
 * rbldnsd txtsubst(), symbolically: the pieces an entry's TXT expands to, given the dataset's
 * `$0`..`$9` variables and `$=` base template. Variables and entry texts inserted by `$=` are
 * copied as they are; `$` followed by anything else is the address.
 */
export function expandTemplate(
  txt: string | undefined,
  variables: ReadonlyMap<string, string>,
  base: string | undefined,
): TxtPiece[] {
  let template = txt ?? '';
  let inserted: TxtPiece;
  if (template.startsWith('=')) {
    template = template.slice(1);
    inserted = { literal: template };
  } else if (base !== undefined && base !== '') {
    inserted = template === '' ? 'address' : { literal: template };
    template = base;
  } else inserted = { literal: template };
  const pieces: TxtPiece[] = [];
  let position = 0;
  while (position < template.length) {
    const dollar = template.indexOf('$', position);
    if (dollar === -1) {
      pieces.push({ literal: template.slice(position) });
      break;
    }
    if (dollar > position) pieces.push({ literal: template.slice(position, dollar) });
    const next = template[dollar + 1];
    if (next === '$') {
      pieces.push({ literal: '$' });
      position = dollar + 2;
    } else if (next !== undefined && /[0-9]/.test(next)) {
      pieces.push({ literal: variables.get(next) ?? `$${next}` });
      position = dollar + 2;
    } else if (next === '=') {
      pieces.push(inserted);
      position = dollar + 2;
    } else {
      pieces.push('address');
      position = dollar + 1;
    }
  }
  return pieces;
}

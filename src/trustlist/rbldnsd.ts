import { OutpostError } from '../core/errors.js';
import {
  ipv4Number,
  ipv4RangeToNetworks,
  ipv4Text,
  type Network,
  networkOf,
  parseNetwork,
} from './network.js';
import {
  BUILTIN_DEFAULT,
  expandTemplate,
  isComment,
  isSpace,
  parseIpv4Cidr,
  parseIpv4Range,
  parseValue,
  type RbldnsdValue,
  skipSpace,
  type TxtPiece,
} from './rbldnsd-syntax.js';
import { TEST_POINTS } from './served.js';
import { textProblem } from './text.js';
import type { NewEntry } from './types.js';
import { listableNetwork } from './validate.js';

export { exportRbldnsd } from './rbldnsd-export.js';

/**
 * Reading rbldnsd datasets into trust list entries. Supported exactly: ip4set and ip4trie (and
 * ip6trie with full addresses), default lines `:A:TXT`, per-entry values, `!` exclusions,
 * comments, `$0`..`$9` variables, the `$=` base template and `$MAXRANGE4`. `$SOA`, `$NS` and
 * `$TTL` describe the zone, which `trustlist serve` sets, so they are noted and skipped.
 * Everything else is refused with its line number: a file is imported whole or not at all.
 */

/** Dataset formats read and written. */
export const RBLDNSD_FORMATS = ['ip4set', 'ip4trie', 'ip6trie'] as const;
export type RbldnsdFormat = (typeof RBLDNSD_FORMATS)[number];

/** What an import file held. */
export interface RbldnsdImport {
  entries: NewEntry[];
  /** Lines read but not imported, and why ($SOA, $NS, $TTL, the RFC 5782 test points). */
  skipped: { line: number; why: string }[];
}

/** A file that cannot be imported exactly: every problem, each with its line. */
export class RbldnsdFormatError extends OutpostError {
  constructor(readonly problems: { line: number; problem: string }[]) {
    const shown = problems.slice(0, 10).map((item) => `line ${item.line}: ${item.problem}`);
    const more = problems.length > 10 ? `; and ${problems.length - 10} more` : '';
    super('BAD_REQUEST', `${shown.join('; ')}${more}`);
    this.name = 'RbldnsdFormatError';
  }
}

/** One dataset line before the final values are known (variables apply to every line). */
interface Pending {
  line: number;
  networks: Network[];
  exclude: boolean;
  value: RbldnsdValue;
}

const IGNORED_SPECIALS = /^(soa|ns|nameserver|ttl)(?:[ \t]|$)/i;

function ipv4Network(value: number, bits: number): Network {
  const bytes = Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  return networkOf({ family: 4, bytes }, bits);
}

/** True when the address has bits set after the first `bits` (rbldnsd refuses such CIDRs). */
function hostBitsSet(value: number, bits: number): boolean {
  return bits < 32 && value % 2 ** (32 - bits) !== 0;
}

/** The trust code of an A value, or why it is not one. */
function trustCode(a: number): { category: number; trust: number } | string {
  const category = (a >>> 8) & 0xff;
  const trust = a & 0xff;
  if (a >>> 16 !== 0x7f00 || category < 2 || category > 15 || trust > 3) {
    return `A ${ipv4Text(a)} is not a trust code 127.0.<category 2..15>.<trust 0..3>`;
  }
  return { category, trust };
}

/** The pieces as an outpost template (`$` address, `$$` dollar), or why they cannot be one. */
function toTemplate(pieces: TxtPiece[]): string | { problem: string } {
  // rbldnsd would read "$" followed by a digit or "=" as a variable, so that cannot be written.
  const ambiguous = pieces.some((piece, i) => {
    const next = pieces[i + 1];
    return piece === 'address' && next !== undefined && next !== 'address' && /^[0-9=]/.test(next.literal);
  });
  if (ambiguous) return { problem: "the address is followed by a digit or '='" };
  let written = pieces;
  if (pieces.every((piece) => piece !== 'address')) {
    // rbldnsd serves at most the first 254 bytes of a text.
    written = [
      {
        literal: pieces
          .map((piece) => piece.literal)
          .join('')
          .slice(0, 254),
      },
    ];
  }
  const template = written
    .map((piece) => (piece === 'address' ? '$' : piece.literal.replaceAll('$', () => '$$')))
    .join('');
  const problem = textProblem(template);
  return problem ? { problem } : template;
}

interface ParseState {
  format: RbldnsdFormat;
  fallback: RbldnsdValue;
  maxRange: number | undefined;
  variables: Map<string, string>;
  base: string | undefined;
  pending: Pending[];
  skipped: RbldnsdImport['skipped'];
  problems: RbldnsdFormatError['problems'];
}

/** A `$` line: returns a problem, or undefined when handled. */
function special(state: ParseState, body: string, line: number): string | undefined {
  if (IGNORED_SPECIALS.test(body)) {
    state.skipped.push({ line, why: `$${body.split(/[ \t]/)[0]}: zone data comes from trustlist serve` });
    return undefined;
  }
  const variable = /^([0-9])[ \t]+(.+)$/.exec(body);
  if (variable?.[1] !== undefined && variable[2] !== undefined) {
    if (!state.variables.has(variable[1])) state.variables.set(variable[1], variable[2]);
    return undefined;
  }
  const base = /^=[ \t]+(.*)$/.exec(body);
  if (base) {
    state.base ??= base[1];
    return undefined;
  }
  const maxRange = /^maxrange4[ \t]+(\/?)([0-9]+)$/i.exec(body);
  if (maxRange?.[2] !== undefined) {
    const number = Number(maxRange[2]);
    if (number === 0 || (maxRange[1] === '/' && number > 32)) return 'invalid $MAXRANGE4';
    const size = maxRange[1] === '/' ? 2 ** (32 - number) : number;
    state.maxRange = Math.min(state.maxRange ?? size, size);
    return undefined;
  }
  return `unsupported special entry '$${body.split(/[ \t]/)[0]}'`;
}

/** The networks of one address field, or a problem. */
function addressField(
  state: ParseState,
  text: string,
  at: number,
): { networks: Network[]; end: number } | string {
  if (state.format === 'ip6trie') {
    // An IPv6 address is full of colons: its field ends at white space or a comment.
    let end = at;
    while (end < text.length && !isSpace(text[end]) && !isComment(text[end])) end++;
    const parsed = parseNetwork(text.slice(at, end));
    if (!parsed.ok || parsed.network.family !== 6) {
      return `invalid IPv6 network '${text.slice(at, end)}' (write it in full: 2001:db8::/32)`;
    }
    return { networks: [parsed.network], end };
  }
  if (state.format === 'ip4trie') {
    const cidr = parseIpv4Cidr(text, at);
    if (!cidr) return 'invalid address';
    if (hostBitsSet(cidr.value, cidr.bits)) return 'invalid range (non-zero host part)';
    return { networks: [ipv4Network(cidr.value, cidr.bits)], end: cidr.end };
  }
  const range = parseIpv4Range(text, at);
  if (!range) return 'invalid address';
  if (range.bits !== undefined && hostBitsSet(range.first, range.bits))
    return 'invalid range (non-zero host part)';
  return { networks: ipv4RangeToNetworks(range.first, range.last), end: range.end };
}

function rangeSize(networks: Network[]): number {
  return networks.reduce(
    (sum, network) => sum + 2 ** ((network.family === 4 ? 32 : 128) - network.prefix),
    0,
  );
}

/** One dataset line (not special, not a comment). */
function datasetLine(state: ParseState, text: string, line: number): string | undefined {
  // In ip6trie "::1" is an address, not a default value.
  if (text.startsWith(':') && !(state.format === 'ip6trie' && text[1] === ':')) {
    const value = parseValue(text, BUILTIN_DEFAULT);
    if (typeof value === 'string') return value;
    state.fallback = value;
    return undefined;
  }
  const exclude = text.startsWith('!');
  const start = exclude ? skipSpace(text, 1) : 0;
  const field = addressField(state, text, start);
  if (typeof field === 'string') return field;
  const after = text[field.end];
  if (after !== undefined && !isSpace(after) && !isComment(after) && after !== ':') return 'invalid address';
  if (
    state.maxRange !== undefined &&
    state.format !== 'ip6trie' &&
    rangeSize(field.networks) > state.maxRange
  ) {
    return `range larger than $MAXRANGE4 (${state.maxRange} addresses)`;
  }
  let value = state.fallback;
  const rest = skipSpace(text, field.end);
  if (!exclude && rest < text.length && !isComment(text[rest])) {
    const parsed = parseValue(text.slice(rest), state.fallback);
    if (typeof parsed === 'string') return parsed;
    value = parsed;
  }
  state.pending.push({ line, networks: field.networks, exclude, value });
  return undefined;
}

/** Reads a dataset file into entries; throws RbldnsdFormatError naming every line it cannot take. */
export function parseRbldnsd(content: string, format: RbldnsdFormat): RbldnsdImport {
  const state: ParseState = {
    format,
    fallback: BUILTIN_DEFAULT,
    maxRange: undefined,
    variables: new Map(),
    base: undefined,
    pending: [],
    skipped: [],
    problems: [],
  };
  const lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    let start = 0;
    let end = raw.length;
    while (isSpace(raw[start])) start++;
    while (end > start && isSpace(raw[end - 1])) end--;
    const text = raw.slice(start, end);
    if (text.includes('\r')) {
      state.problems.push({
        line,
        problem: 'carriage return in the line (save the file with LF line endings)',
      });
      return;
    }
    let problem: string | undefined;
    if (text.startsWith('$')) problem = special(state, text.slice(1), line);
    else if ((isComment(text[0]) || text[0] === ':') && text[1] === '$')
      problem = special(state, text.slice(2), line);
    else if (text !== '' && !isComment(text[0])) problem = datasetLine(state, text, line);
    if (problem) state.problems.push({ line, problem });
  });
  const entries = resolveEntries(state);
  if (state.problems.length > 0) throw new RbldnsdFormatError(state.problems.sort((a, b) => a.line - b.line));
  return { entries, skipped: state.skipped };
}

/** Turns the pending lines into entries, with the final variables; adds problems to the state. */
function resolveEntries(state: ParseState): NewEntry[] {
  const entries: NewEntry[] = [];
  const seen = new Map<string, { line: number; key: string }>();
  const pieces = new Map<string, { line: number; key: string }>();
  for (const item of state.pending) {
    const converted = convert(state, item);
    if (typeof converted === 'string') {
      state.problems.push({ line: item.line, problem: converted });
      continue;
    }
    for (const entry of converted) {
      const key = entry.exclude ? '!' : `${entry.category}.${entry.trust}:${entry.text}`;
      const earlier = seen.get(entry.network);
      if (earlier) {
        if (state.format !== 'ip4set' || earlier.key !== key) {
          state.problems.push({
            line: item.line,
            problem: `${entry.network} is already given at line ${earlier.line}`,
          });
        }
        continue;
      }
      if (state.format === 'ip4set') {
        const clash = bucketClash(pieces, entry.network, key, item.line);
        if (clash) {
          state.problems.push({ line: item.line, problem: clash });
          continue;
        }
      }
      seen.set(entry.network, { line: item.line, key });
      entries.push(entry);
    }
  }
  return entries;
}

/** The entries of one line, or a problem. The RFC 5782 test points are served anyway: skipped. */
function convert(state: ParseState, item: Pending): NewEntry[] | string {
  const networks = item.networks.filter((network) => {
    const points: readonly string[] = item.exclude ? TEST_POINTS.unlisted : TEST_POINTS.listed;
    const isTestPoint = points.includes(network.text);
    if (isTestPoint)
      state.skipped.push({
        line: item.line,
        why: `${network.text} is an RFC 5782 test point, always served`,
      });
    return !isTestPoint;
  });
  if (networks.length === 0) return [];
  for (const network of networks) {
    try {
      listableNetwork(network.text);
    } catch (error) {
      return error instanceof OutpostError && error.detail ? error.detail : String(error);
    }
  }
  if (item.exclude) {
    return networks.map((network) => ({
      network: network.text,
      exclude: true,
      reason: `rbldnsd exclusion (line ${item.line})`,
    }));
  }
  const code = trustCode(item.value.a);
  if (typeof code === 'string') return code;
  const template = toTemplate(expandTemplate(item.value.txt, state.variables, state.base));
  if (typeof template !== 'string') return `TXT cannot be served the same way: ${template.problem}`;
  return networks.map((network) => ({ network: network.text, ...code, text: template }));
}

/**
 * ip4set answers from the most specific of its /32, /24, /16 and /8 buckets and returns every
 * value stored at the same spot; outpost answers the longest prefix. Both agree unless two
 * overlapping lines land in the same bucket with different values: that is refused.
 */
function bucketClash(
  pieces: Map<string, { line: number; key: string }>,
  networkText: string,
  key: string,
  line: number,
): string | undefined {
  const parsed = parseNetwork(networkText);
  if (!parsed.ok) return parsed.problem;
  const { network } = parsed;
  const bucket = Math.max(8, Math.ceil(network.prefix / 8) * 8);
  const first = ipv4Number(network.bytes);
  const count = 2 ** (bucket - network.prefix);
  const step = 2 ** (32 - bucket);
  for (let i = 0; i < count; i++) {
    const spot = `${bucket}:${first + i * step}`;
    const earlier = pieces.get(spot);
    if (earlier && earlier.key !== key) {
      return `overlaps line ${earlier.line} with a different value; ip4set would answer both`;
    }
    if (!earlier) pieces.set(spot, { line, key });
  }
  return undefined;
}

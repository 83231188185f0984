import { nameProblem, normalizeName } from '../../dns/names.js';
import { type Cidr, parseCidr } from '../../pipeline/ip.js';

/** At most this many terms of one record may need DNS lookups (as SPF's limit of ten). */
export const MAX_LOOKUP_TERMS = 10;

/** One term of an RMX record, in record order. */
export type RmxTerm =
  | { kind: 'ip'; text: string; block: Cidr }
  | { kind: 'a' | 'mx'; text: string; host?: string }
  | { kind: 'all'; text: string; verdict: 'fail' | 'neutral' };

/** A parsed record, or why it cannot be used. */
export type ParsedRmx = { ok: true; terms: RmxTerm[] } | { ok: false; error: string };

function parseTerm(text: string): RmxTerm | string {
  const lower = text.toLowerCase();
  if (lower === '-all') return { kind: 'all', text, verdict: 'fail' };
  if (lower === '?all') return { kind: 'all', text, verdict: 'neutral' };
  const colon = lower.indexOf(':');
  const name = colon < 0 ? lower : lower.slice(0, colon);
  const argument = colon < 0 ? undefined : text.slice(colon + 1);
  if (name === 'ip4' || name === 'ip6') {
    const block = argument === undefined ? undefined : parseCidr(argument);
    if (block === undefined || block.family !== (name === 'ip4' ? 4 : 6))
      return `bad address block in "${text}"`;
    return { kind: 'ip', text, block };
  }
  if (name === 'a' || name === 'mx') {
    if (argument === undefined) return { kind: name, text };
    if (nameProblem(argument) !== undefined) return `bad host name in "${text}"`;
    return { kind: name, text, host: normalizeName(argument) };
  }
  return `unknown term "${text}"`;
}

/**
 * Parses an RMX record: space-separated `ip4:<cidr>`, `ip6:<cidr>`, `a[:host]`, `mx[:host]`, and
 * optionally a final `-all` or `?all`. More than MAX_LOOKUP_TERMS a/mx terms is an error, so a
 * record cannot make us send an unbounded number of queries.
 */
export function parseRmx(record: string): ParsedRmx {
  const words = record
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');
  if (words.length === 0) return { ok: false, error: 'empty record' };
  const terms: RmxTerm[] = [];
  for (const [index, word] of words.entries()) {
    const term = parseTerm(word);
    if (typeof term === 'string') return { ok: false, error: term };
    if (term.kind === 'all' && index !== words.length - 1)
      return { ok: false, error: `"${word}" must be the last term` };
    terms.push(term);
  }
  const lookups = terms.filter((term) => term.kind === 'a' || term.kind === 'mx').length;
  if (lookups > MAX_LOOKUP_TERMS) {
    return { ok: false, error: `${lookups} terms need DNS lookups, more than ${MAX_LOOKUP_TERMS}` };
  }
  return { ok: true, terms };
}

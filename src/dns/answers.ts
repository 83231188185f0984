import type { Answer, DecodedPacket } from 'dns-packet';
import { normalizeName } from './names.js';
import type { RecordType } from './types.js';
import { Rcode } from './wire.js';

/** What one response says about (name, type); the resolver caches this per question. */
export type Outcome =
  | { kind: 'data'; values: readonly unknown[]; cnames: number }
  /** The response ended at a CNAME whose target it did not answer for: ask again there. */
  | { kind: 'alias'; target: string; cnames: number }
  | { kind: 'negative'; code: 'ENOTFOUND' | 'ENODATA'; cnames: number };

/** How long positive answers may be cached at most (records may ask for longer). */
export const MAX_POSITIVE_TTL = 86_400;
/** RFC 2308 section 5 suggests 1-3 hours as the cap for negative answers. */
export const MAX_NEGATIVE_TTL = 10_800;
/** Negative answers without an SOA to take the TTL from. */
export const DEFAULT_NEGATIVE_TTL = 60;

function withoutRoot(name: string): string {
  return name === '.' ? '' : name;
}

function text(part: string | Buffer): string {
  return typeof part === 'string' ? part : part.toString('utf8');
}

/** One record in the shape node's dns.promises gives for its type (objects frozen: they are cached). */
function nodeValue(answer: Answer): unknown {
  switch (answer.type) {
    case 'MX':
      return Object.freeze({
        exchange: withoutRoot(answer.data.exchange),
        priority: answer.data.preference ?? 0,
      });
    case 'TXT':
      return Object.freeze(Array.isArray(answer.data) ? answer.data.map(text) : [text(answer.data)]);
    case 'SRV': {
      const { target, port, priority = 0, weight = 0 } = answer.data;
      return Object.freeze({ name: withoutRoot(target), port, priority, weight });
    }
    case 'SOA': {
      const { mname, rname, serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0 } = answer.data;
      return Object.freeze({
        nsname: mname,
        hostmaster: rname,
        serial,
        refresh,
        retry,
        expire,
        minttl: minimum,
      });
    }
    case 'OPT':
      return undefined;
    default:
      return answer.data;
  }
}

function ttlOf(answer: Answer): number {
  return 'ttl' in answer ? (answer.ttl ?? 0) : 0;
}

function negativeTtl(packet: DecodedPacket): number {
  for (const record of packet.authorities ?? []) {
    if (record.type === 'SOA') return Math.min(ttlOf(record), record.data.minimum ?? ttlOf(record));
  }
  return DEFAULT_NEGATIVE_TTL;
}

/**
 * Reads a NOERROR/NXDOMAIN response for `name` (normal form): follows the CNAMEs it contains (at
 * most `maxCnames`), takes the records of `type` at the end of the chain, and works out how long
 * the result may be cached (the smallest TTL involved; negative answers per RFC 2308).
 */
export function interpretReply(
  packet: DecodedPacket,
  rcode: number,
  name: string,
  type: RecordType,
  maxCnames: number,
): { outcome: Outcome; ttl: number } {
  const answers = packet.answers ?? [];
  let owner = name;
  let chainTtl = MAX_POSITIVE_TTL;
  let cnames = 0;
  while (type !== 'CNAME' && cnames <= maxCnames) {
    const alias = answers.find((record) => record.type === 'CNAME' && normalizeName(record.name) === owner);
    if (alias?.type !== 'CNAME') break;
    chainTtl = Math.min(chainTtl, ttlOf(alias));
    owner = normalizeName(alias.data);
    cnames++;
  }
  const records = answers.filter((record) => record.type === type && normalizeName(record.name) === owner);
  if (records.length > 0) {
    const ttl = records.reduce((lowest, record) => Math.min(lowest, ttlOf(record)), chainTtl);
    return { outcome: { kind: 'data', values: Object.freeze(records.map(nodeValue)), cnames }, ttl };
  }
  const negative = Math.min(negativeTtl(packet), chainTtl, MAX_NEGATIVE_TTL);
  if (rcode === Rcode.NXDOMAIN)
    return { outcome: { kind: 'negative', code: 'ENOTFOUND', cnames }, ttl: negative };
  // A chain that stops without data or SOA came from a server that would not follow it for us.
  const hasSoa = (packet.authorities ?? []).some((record) => record.type === 'SOA');
  if (cnames > 0 && !hasSoa) return { outcome: { kind: 'alias', target: owner, cnames }, ttl: chainTtl };
  return { outcome: { kind: 'negative', code: 'ENODATA', cnames }, ttl: negative };
}

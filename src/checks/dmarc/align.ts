import { getDomain } from 'tldts';
import { normalizeName } from '../../dns/names.js';
import type { AlignmentMode } from './record.js';

/**
 * The organizational domain of a name (RFC 7489 section 3.2): the name one label below its public
 * suffix, from the Public Suffix List (ICANN and private sections, via tldts). A name that is itself
 * a public suffix, or has none, is its own organizational domain.
 */
export function organizationalDomain(domain: string): string {
  const name = normalizeName(domain);
  return getDomain(name, { allowPrivateDomains: true }) ?? name;
}

/**
 * Identifier alignment (RFC 7489 section 3.1): strict needs the same domain, relaxed the same
 * organizational domain. Names compare in normal form (case and a trailing dot do not matter).
 */
export function aligned(identifier: string, authorDomain: string, mode: AlignmentMode): boolean {
  const left = normalizeName(identifier);
  const right = normalizeName(authorDomain);
  if (left === '' || right === '') return false;
  if (mode === 's') return left === right;
  return organizationalDomain(left) === organizationalDomain(right);
}

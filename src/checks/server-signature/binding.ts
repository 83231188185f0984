import { getPublicSuffix } from 'tldts';
import { normalizeName } from '../../dns/names.js';

/**
 * Whether a signature's d= domain speaks for a host: d= is the host's name or a parent domain of
 * it, and never a public suffix (private ones such as github.io included), so nobody can sign for
 * every host under "com" or "co.uk".
 */
export function signsForHost(signingDomain: string, hostName: string): boolean {
  const domain = normalizeName(signingDomain);
  const host = normalizeName(hostName);
  if (domain === '' || host === '') return false;
  if (domain !== host && !host.endsWith(`.${domain}`)) return false;
  return getPublicSuffix(domain, { allowPrivateDomains: true }) !== domain;
}

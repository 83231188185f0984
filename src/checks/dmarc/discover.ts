import { isDnsError, isNoRecords, type Resolver } from '../../dns/types.js';
import { organizationalDomain } from './align.js';
import { type DmarcRecord, isDmarcRecord, parseDmarcRecord } from './record.js';

/** What policy discovery (RFC 7489 section 6.6.3) found for an author domain. */
export type Discovery =
  | { kind: 'found'; record: DmarcRecord; policyDomain: string; inherited: boolean }
  /** No DMARC record at the author domain or its organizational domain. */
  | { kind: 'none'; organizationalDomain: string }
  /** A record set that cannot be used: several records, or no valid policy. */
  | { kind: 'invalid'; policyDomain: string; problem: string }
  /** A lookup failed; trying again later may find the policy. */
  | { kind: 'temperror'; name: string; code: string };

/** The DMARC records at _dmarc.<domain>; [] when the name has none (or cannot exist). */
async function dmarcRecordsAt(dns: Resolver, domain: string): Promise<string[]> {
  try {
    const answers = await dns.resolveTxt(`_dmarc.${domain}`);
    return answers.map((strings) => strings.join('')).filter(isDmarcRecord);
  } catch (error) {
    // A name too long for DNS (EBADNAME) has no record, as one that does not exist.
    if (isNoRecords(error) || (isDnsError(error) && error.code === 'EBADNAME')) return [];
    throw error;
  }
}

function fromRecords(records: readonly string[], policyDomain: string, inherited: boolean): Discovery {
  if (records.length > 1)
    return { kind: 'invalid', policyDomain, problem: `${records.length} DMARC records` };
  const parsed = parseDmarcRecord(records[0] ?? '');
  return parsed.ok
    ? { kind: 'found', record: parsed.record, policyDomain, inherited }
    : { kind: 'invalid', policyDomain, problem: parsed.problem };
}

function lookupFailure(error: unknown, domain: string): Discovery {
  if (!isDnsError(error)) throw error;
  return { kind: 'temperror', name: `_dmarc.${domain}`, code: error.code };
}

/**
 * Finds the policy for an author domain: its own DMARC record, else its organizational domain's
 * (inherited, so `sp` applies). DNS failures are reported, not thrown.
 */
export async function discoverPolicy(dns: Resolver, authorDomain: string): Promise<Discovery> {
  let own: string[];
  try {
    own = await dmarcRecordsAt(dns, authorDomain);
  } catch (error) {
    return lookupFailure(error, authorDomain);
  }
  if (own.length > 0) return fromRecords(own, authorDomain, false);
  const orgDomain = organizationalDomain(authorDomain);
  if (orgDomain === authorDomain) return { kind: 'none', organizationalDomain: orgDomain };
  let inherited: string[];
  try {
    inherited = await dmarcRecordsAt(dns, orgDomain);
  } catch (error) {
    return lookupFailure(error, orgDomain);
  }
  if (inherited.length === 0) return { kind: 'none', organizationalDomain: orgDomain };
  return fromRecords(inherited, orgDomain, true);
}

import { dkimEntries } from '../checks/dkim/results.js';
import { aligned } from '../checks/dmarc/align.js';
import { domainOf } from '../core/address.js';
import type { CheckResult } from '../pipeline/check.js';

/**
 * Whether the envelope sender is proven, so a challenge cannot go to a forged address: SPF pass
 * for the MAIL FROM identity (not HELO), or a DKIM pass whose d= is aligned (relaxed, as DMARC
 * does) with the sender's domain. `results` are the session's check results by check name.
 */
export function senderAuthenticated(results: ReadonlyMap<string, CheckResult>, sender: string): boolean {
  const domain = domainOf(sender);
  if (domain === '') return false;
  const spf = results.get('spf');
  if (spf?.result === 'pass' && spf.props?.['smtp.mailfrom'] !== undefined) return true;
  const dkim = results.get('dkim');
  if (dkim === undefined) return false;
  return dkimEntries(dkim).some(
    (entry) => entry.result === 'pass' && aligned(entry.props?.['header.d'] ?? '', domain, 'r'),
  );
}

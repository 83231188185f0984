import type { DKIMResult } from 'mailauth';
import type { CheckResult, CheckResultValue } from '../../pipeline/check.js';

/** RFC 6008: header.b carries the first characters of b=, enough to tell signatures apart. */
const HEADER_B_LENGTH = 8;

/** The reason of a signature that verifies but leaves part of the body unsigned (l= tag). */
export const UNSIGNED_CONTENT_REASON = 'body length limit leaves content unsigned';

// When no signature passes, the overall result is the most hopeful one: a temporary failure may pass
// later, a definite failure says more than an unusable signature.
const PRECEDENCE: readonly CheckResultValue[] = [
  'pass',
  'temperror',
  'fail',
  'permerror',
  'neutral',
  'softfail',
  'none',
];

const POLICY_REASONS: Record<string, string> = {
  'weak-key': 'key too short',
  'weak-algorithm': 'rsa-sha1 is not accepted (RFC 8301)',
};

function resultValue(signature: DKIMResult): { result: CheckResultValue; reason?: string } {
  const status = signature.status;
  const comment = status.comment;
  switch (status.result) {
    case 'pass':
      // RFC 6376 section 8.2: content after the l= limit is not covered, so it could be anything.
      if ((status.underSized ?? 0) > 0) return { result: 'neutral', reason: UNSIGNED_CONTENT_REASON };
      return { result: 'pass' };
    case 'policy': {
      // RFC 8601's dkim=policy ("signed, but not acceptable here") has no place in our vocabulary.
      const rule = status.policy?.['dkim-rules'] ?? '';
      return { result: 'neutral', reason: POLICY_REASONS[rule] ?? comment ?? 'signature not acceptable' };
    }
    case 'fail':
    case 'neutral':
    case 'none':
    case 'temperror':
    case 'permerror':
      return comment === undefined ? { result: status.result } : { result: status.result, reason: comment };
    default:
      return { result: 'permerror', reason: comment ?? `unexpected result ${status.result}` };
  }
}

/** One signature as an Authentication-Results entry: header.d, header.s, header.a, header.b. */
export function signatureEntry(signature: DKIMResult): CheckResult {
  const entry: CheckResult = resultValue(signature);
  if (signature.signingDomain === undefined) return entry;
  const domain = signature.signingDomain.toLowerCase();
  const selector = signature.selector ?? '';
  const props: Record<string, string> = { 'header.d': domain, 'header.s': selector };
  if (signature.algo !== undefined) props['header.a'] = signature.algo;
  const b = (signature.signature ?? '').replace(/\s+/g, '');
  if (b !== '') props['header.b'] = b.slice(0, HEADER_B_LENGTH);
  entry.props = props;
  entry.details = { domain, selector };
  return entry;
}

/**
 * The dkim check's result for a message: every signature an entry of its own, the one that decides
 * the overall result first (pass when any signature passes), the others in `more`; `none` when
 * the message is not signed.
 */
export function dkimCheckResult(signatures: readonly DKIMResult[]): CheckResult {
  const entries = signatures.map(signatureEntry);
  const rank = (entry: CheckResult) => PRECEDENCE.indexOf(entry.result);
  const best = entries.reduce<CheckResult | undefined>(
    (chosen, entry) => (chosen === undefined || rank(entry) < rank(chosen) ? entry : chosen),
    undefined,
  );
  if (best === undefined) return { result: 'none' };
  const more = entries.filter((entry) => entry !== best);
  return more.length === 0 ? best : { ...best, more };
}

/** Every entry of a dkim result (the first and its `more`), e.g. for DMARC. */
export function dkimEntries(result: CheckResult): CheckResult[] {
  return [result, ...(result.more ?? [])];
}

import type { Action, CheckResult, CheckResultValue } from '../../pipeline/check.js';
import { aligned } from './align.js';
import type { Discovery } from './discover.js';
import type { DmarcPolicy } from './record.js';

/** An identifier SPF or DKIM checked, and what that check found. */
export interface CheckedIdentifier {
  domain: string;
  result: CheckResultValue;
}

/** What SPF and DKIM established for the message. */
export interface Authentication {
  /** The domain SPF checked (MAIL FROM, or HELO for the null sender); absent when SPF did not run. */
  spf?: CheckedIdentifier;
  /** One entry per DKIM signature. */
  dkim: CheckedIdentifier[];
  /** True when SPF or DKIM could not complete, so a failure now might be a pass later. */
  incomplete: boolean;
}

// RFC 7489 section 6.3 (pct): a message not sampled gets the next less strict policy.
const LESS_STRICT: Record<DmarcPolicy, DmarcPolicy> = {
  reject: 'quarantine',
  quarantine: 'none',
  none: 'none',
};
const REQUESTED: Record<DmarcPolicy, Action> = { reject: 'reject', quarantine: 'quarantine', none: 'accept' };

function unreachablePolicy(
  authorDomain: string,
  discovery: Exclude<Discovery, { kind: 'found' }>,
): CheckResult {
  const props = { 'header.from': authorDomain };
  switch (discovery.kind) {
    case 'none':
      return { result: 'none', props };
    case 'invalid':
      return {
        result: 'permerror',
        reason: `DMARC: unusable record at _dmarc.${discovery.policyDomain}: ${discovery.problem}`,
        props,
        details: { policy_domain: discovery.policyDomain },
      };
    case 'temperror':
      return {
        result: 'temperror',
        reason: `DMARC: the policy of ${authorDomain} could not be looked up now, try again later`,
        props,
        details: { lookup: `${discovery.name} ${discovery.code}` },
      };
  }
}

/**
 * DMARC's verdict (RFC 7489 sections 3.1, 6.6): pass when SPF or a DKIM signature passed for an
 * identifier aligned with the author domain (strict: the same domain; relaxed: the same
 * organizational domain); otherwise fail with the published policy as the requested action, p for
 * the author domain's own record and sp (else p) for an inherited one, sampled by pct with `random`
 * (a number in [0, 1)). A failure while SPF or DKIM could not complete is temperror.
 */
export function evaluateDmarc(
  authorDomain: string,
  discovery: Discovery,
  authentication: Authentication,
  random: () => number,
): CheckResult {
  if (discovery.kind !== 'found') return unreachablePolicy(authorDomain, discovery);
  const { record, policyDomain, inherited } = discovery;
  const policy = inherited ? (record.sp ?? record.p) : record.p;
  const spfAligned =
    authentication.spf?.result === 'pass' && aligned(authentication.spf.domain, authorDomain, record.aspf);
  const dkimAligned = authentication.dkim.some(
    (signature) => signature.result === 'pass' && aligned(signature.domain, authorDomain, record.adkim),
  );
  const details: Record<string, string> = {
    policy,
    policy_domain: policyDomain,
    aligned: [spfAligned ? 'spf' : '', dkimAligned ? 'dkim' : ''].filter(Boolean).join(' '),
  };
  if (spfAligned || dkimAligned) {
    return {
      result: 'pass',
      props: { 'header.from': authorDomain, 'policy.dmarc': 'none' },
      details: { ...details, disposition: 'none' },
    };
  }
  if (authentication.incomplete) {
    return {
      result: 'temperror',
      reason: `DMARC: SPF or DKIM for ${authorDomain} could not be checked now, try again later`,
      props: { 'header.from': authorDomain },
      details,
    };
  }
  const sampled = record.pct >= 100 || random() * 100 < record.pct;
  const disposition = sampled ? policy : LESS_STRICT[policy];
  return {
    result: 'fail',
    reason:
      disposition === 'reject'
        ? `Unauthenticated mail from ${authorDomain} is refused by its DMARC policy`
        : `Mail from ${authorDomain} is not authenticated by an aligned SPF or DKIM pass (DMARC)`,
    props: { 'header.from': authorDomain, 'policy.dmarc': disposition },
    details: { ...details, disposition },
    requestedAction: REQUESTED[disposition],
  };
}

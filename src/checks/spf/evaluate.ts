import { spf } from 'mailauth/lib/spf/index.js';
import type { Resolver } from '../../dns/types.js';
import type { CheckResultValue } from '../../pipeline/check.js';
import { plainIp } from '../../pipeline/ip.js';
import { mailauthResolver } from '../dkim/mailauth-resolver.js';

/** Which identity SPF checked (RFC 7208 section 2.3 and 2.4). */
export type SpfIdentity = 'mailfrom' | 'helo';

/** What one SPF evaluation found. */
export interface SpfOutcome {
  result: CheckResultValue;
  identity: SpfIdentity;
  /** The domain whose policy was evaluated: the MAIL FROM domain, or the HELO name. */
  domain: string;
  /** What Authentication-Results reports (RFC 8601 2.7.2): the domain, or the address when the policy used its local-part. */
  reported: string;
  /** The domain owner's explanation (exp=, RFC 7208 section 6.2); only on fail. Third-party text. */
  explanation?: string;
  /** Why a permerror or temperror happened (mailauth's comment), for logs. */
  comment?: string;
}

/** What to check: the client, and the identity given in MAIL FROM ('' for the null sender) or HELO. */
export interface SpfQuery {
  ip: string;
  /** Reverse-path; '' or undefined checks the HELO identity, as RFC 7208 section 2.4 asks for the null sender. */
  mailFrom?: string;
  helo?: string;
  /** Our host name, for the %{r} macro in explanations. */
  receiver: string;
}

const RESULTS: ReadonlySet<string> = new Set<CheckResultValue>([
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
]);

function asResult(value: string): CheckResultValue {
  return RESULTS.has(value) ? (value as CheckResultValue) : 'temperror';
}

/**
 * check_host() of RFC 7208 for one identity, through mailauth in its strict (RFC-exact) mode and our
 * resolver. DNS failures become temperror, never exceptions.
 */
export async function evaluateSpf(dns: Resolver, query: SpfQuery): Promise<SpfOutcome> {
  const sender = query.mailFrom ?? '';
  const identity: SpfIdentity = sender === '' ? 'helo' : 'mailfrom';
  const helo = query.helo ?? '';
  if (identity === 'helo' && helo === '') {
    return { result: 'none', identity, domain: '', reported: '', comment: 'no HELO name to check' };
  }
  const response = await spf({
    ip: plainIp(query.ip),
    helo,
    mta: query.receiver,
    resolver: mailauthResolver(dns),
    strict: true,
    ...(identity === 'mailfrom' ? { sender } : {}),
  });
  const status = response.status;
  const reported =
    identity === 'helo' ? (status.smtp?.helo ?? helo) : (status.smtp?.mailfrom ?? response.domain);
  const outcome: SpfOutcome = {
    result: asResult(status.result),
    identity,
    domain: response.domain,
    reported,
  };
  if (response.explanation !== undefined) outcome.explanation = response.explanation;
  const failedToEvaluate = outcome.result === 'permerror' || outcome.result === 'temperror';
  if (failedToEvaluate && status.comment !== undefined) outcome.comment = status.comment;
  return outcome;
}

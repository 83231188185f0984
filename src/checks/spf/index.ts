import { hostname } from 'node:os';
import { z } from 'zod';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { plainIp } from '../../pipeline/ip.js';
import { evaluateSpf, type SpfOutcome } from './evaluate.js';

/** Options of the spf check. */
export const spfOptionsSchema = z.strictObject({
  /** Also check the HELO identity (RFC 7208 section 2.3), reported as a second entry with smtp.helo. */
  check_helo: z.boolean().default(false),
  /** Our host name for the %{r} macro of explanations; the machine's host name when not set. */
  receiver: z.string().min(1).optional(),
});

export type SpfOptions = z.output<typeof spfOptionsSchema>;

// RFC 7372: X.7.23 "SPF validation failed", X.7.24 "SPF validation error".
const FAIL_CODE = { code: 550, enhanced: '5.7.23' };
const PERMERROR_CODE = { code: 550, enhanced: '5.7.24' };
const TEMPERROR_CODE = { code: 451, enhanced: '4.7.24' };

function reasonFor(outcome: SpfOutcome, ip: string): string | undefined {
  const domain = outcome.domain;
  switch (outcome.result) {
    case 'fail':
      // RFC 7208 section 6.2: the domain owner's explanation is what the sender should read.
      return outcome.explanation ?? `SPF: ${domain} does not designate ${ip} as a permitted sender`;
    case 'softfail':
      return `SPF: ${domain} does not designate ${ip} as a permitted sender (softfail)`;
    case 'permerror':
      return `SPF: the policy of ${domain} has a permanent error`;
    case 'temperror':
      return `SPF: the policy of ${domain} could not be checked now, try again later`;
    default:
      return undefined;
  }
}

function replyCodeFor(outcome: SpfOutcome): CheckResult['replyCode'] {
  if (outcome.result === 'fail') return FAIL_CODE;
  if (outcome.result === 'permerror') return PERMERROR_CODE;
  if (outcome.result === 'temperror') return TEMPERROR_CODE;
  return undefined;
}

/** One SPF outcome as a check result: smtp.mailfrom or smtp.helo, the explanation as reason on fail. */
export function spfCheckResult(outcome: SpfOutcome, ip: string): CheckResult {
  const result: CheckResult = { result: outcome.result };
  const reason = reasonFor(outcome, ip);
  if (reason !== undefined) result.reason = reason;
  const replyCode = replyCodeFor(outcome);
  if (replyCode !== undefined) result.replyCode = replyCode;
  if (outcome.reported !== '') result.props = { [`smtp.${outcome.identity}`]: outcome.reported };
  const details: Record<string, string> = { identity: outcome.identity, domain: outcome.domain };
  if (outcome.explanation !== undefined) details.explanation = outcome.explanation;
  if (outcome.comment !== undefined) details.comment = outcome.comment;
  result.details = details;
  return result;
}

/**
 * SPF (RFC 7208): does the domain of MAIL FROM (or, for the null sender, the HELO name) list the
 * client as a permitted sender? `details.identity` and `details.domain` say what was checked (DMARC
 * reads them); `details.explanation` holds the owner's exp= text on fail.
 */
export const spfCheck: Check<SpfOptions> = {
  name: 'spf',
  stage: 'mail',
  async run({ client, helo, mailFrom, dns, options }) {
    const ip = plainIp(client.ip);
    const receiver = options.receiver ?? hostname();
    const query = { ip, helo, receiver };
    const checkHelo = options.check_helo && (mailFrom ?? '') !== '' && (helo ?? '') !== '';
    const [main, heloOutcome] = await Promise.all([
      evaluateSpf(dns, { ...query, mailFrom }),
      checkHelo ? evaluateSpf(dns, { ...query, mailFrom: '' }) : undefined,
    ]);
    const result = spfCheckResult(main, ip);
    if (heloOutcome !== undefined) result.more = [spfCheckResult(heloOutcome, ip)];
    return result;
  },
};

/** Registration: RFC 7208 section 8 defaults (fail is refused, temperror deferred, the rest accepted). */
export const spfRegistration: CheckRegistration<SpfOptions> = {
  check: spfCheck,
  optionsSchema: spfOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

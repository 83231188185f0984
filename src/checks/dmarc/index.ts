import { hostname } from 'node:os';
import { z } from 'zod';
import { normalizeName } from '../../dns/names.js';
import type { Check, CheckContext, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { dkimCheckResult, dkimEntries } from '../dkim/results.js';
import { verifyMessageOnce } from '../dkim/verify.js';
import { evaluateSpf } from '../spf/evaluate.js';
import { spfCheckResult } from '../spf/index.js';
import { discoverPolicy } from './discover.js';
import { type Authentication, type CheckedIdentifier, evaluateDmarc } from './evaluate.js';

/** The dmarc check has no options; what to do with its results is configured with `on`. */
export const dmarcOptionsSchema = z.strictObject({});

export type DmarcOptions = z.output<typeof dmarcOptionsSchema>;

/** The key-size rule used when DMARC verifies signatures itself (no dkim check configured). */
const DEFAULT_MIN_KEY_BITS = 1024;

type DataContext = Omit<CheckContext<DmarcOptions>, 'message'> & { message: Buffer };

/** The one domain of the From field(s) (RFC 7489 6.6.1), or why there is not exactly one. */
async function authorDomainOf(ctx: DataContext): Promise<{ domain: string } | { problem: string }> {
  const verified = await verifyMessageOnce(ctx.message, ctx.dns, {
    minKeyBits: DEFAULT_MIN_KEY_BITS,
    now: ctx.now(),
  });
  if (verified.fromFields > 1) return { problem: 'the message has more than one From field' };
  const domains = new Set(
    verified.headerFrom.map((address) => normalizeName(address.slice(address.lastIndexOf('@') + 1))),
  );
  const [domain] = domains;
  if (domains.size !== 1 || domain === undefined || domain === '') {
    return { problem: 'the From field does not name exactly one author domain' };
  }
  return { domain };
}

/** The spf check's result, or (when it is not configured) SPF evaluated here for the same identity. */
async function spfResult(ctx: DataContext): Promise<CheckResult> {
  const earlier = ctx.earlier.get('spf');
  if (earlier !== undefined) return earlier;
  const query = { ip: ctx.client.ip, mailFrom: ctx.mailFrom, helo: ctx.helo, receiver: hostname() };
  return spfCheckResult(await evaluateSpf(ctx.dns, query), ctx.client.ip);
}

/** The dkim check's result, or (when it is not configured) the signatures verified here. */
async function dkimResult(ctx: DataContext): Promise<CheckResult> {
  const earlier = ctx.earlier.get('dkim');
  if (earlier !== undefined) return earlier;
  const verified = await verifyMessageOnce(ctx.message, ctx.dns, {
    minKeyBits: DEFAULT_MIN_KEY_BITS,
    now: ctx.now(),
  });
  return dkimCheckResult(verified.results);
}

function identifierOf(entry: CheckResult): CheckedIdentifier | undefined {
  const domain = entry.details?.domain;
  return domain === undefined || domain === '' ? undefined : { domain, result: entry.result };
}

async function authenticationOf(ctx: DataContext): Promise<Authentication> {
  const [spf, dkim] = await Promise.all([spfResult(ctx), dkimResult(ctx)]);
  const spfIdentifier = identifierOf(spf);
  const dkimAll = dkimEntries(dkim);
  return {
    ...(spfIdentifier === undefined ? {} : { spf: spfIdentifier }),
    dkim: dkimAll.flatMap((entry) => identifierOf(entry) ?? []),
    incomplete: spf.result === 'temperror' || dkimAll.some((entry) => entry.result === 'temperror'),
  };
}

/**
 * A dmarc check drawing pct samples from `random` (a number in [0, 1)); tests pass a fixed one.
 * It reads the spf and dkim checks' results from `ctx.earlier` and evaluates them itself when they
 * are not configured, so its verdict never depends on which other checks a listener lists.
 */
export function createDmarcCheck(random: () => number = Math.random): Check<DmarcOptions> {
  return {
    name: 'dmarc',
    stage: 'data',
    after: ['spf', 'dkim'],
    async run(ctx) {
      const { message } = ctx;
      if (message === undefined) return { result: 'none', reason: 'no message to evaluate' };
      const withMessage: DataContext = { ...ctx, message };
      const author = await authorDomainOf(withMessage);
      if ('problem' in author) return { result: 'permerror', reason: `DMARC: ${author.problem}` };
      const [discovery, authentication] = await Promise.all([
        discoverPolicy(ctx.dns, author.domain),
        authenticationOf(withMessage),
      ]);
      return evaluateDmarc(author.domain, discovery, authentication, random);
    },
  };
}

/**
 * DMARC (RFC 7489): does SPF or DKIM authenticate a domain aligned with the From domain? On fail the
 * published policy (p/sp after pct) is `requestedAction` and `policy.dmarc`; `on = { fail = "policy" }`
 * (the default) applies it.
 */
export const dmarcCheck: Check<DmarcOptions> = createDmarcCheck();

/** Registration: a failure gets what the domain's published policy asks for; everything else is accepted. */
export const dmarcRegistration: CheckRegistration<DmarcOptions> = {
  check: dmarcCheck,
  optionsSchema: dmarcOptionsSchema,
  defaults: { fail: 'policy' },
};

import { z } from 'zod';
import { parseDuration } from '../../config/units.js';
import { type GreylistPolicy, type GreylistVerdict, sharedGreylistStore } from '../../greylist/store.js';
import { makeTriplet } from '../../greylist/triplet.js';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { type Cidr, inCidr, parseCidr, plainIp } from '../../pipeline/ip.js';

/** "5m", "1d" or milliseconds. */
const durationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as "5m" or "1d", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const cidrSchema = z.string().transform((text, ctx) => {
  const block = parseCidr(text.trim());
  if (block === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an address or CIDR block such as "192.0.2.0/24", got "${text}"`,
    });
    return z.NEVER;
  }
  return block;
});

/** Options of the greylist check. */
export const greylistOptionsSchema = z
  .strictObject({
    /** The state database; the server takes a relative path from data_dir. */
    path: z.string().min(1).default('greylist.db'),
    delay: durationSchema.default(5 * 60_000),
    retry_window: durationSchema.default(86_400_000),
    expire: durationSchema.default(36 * 86_400_000),
    /** Clients never greylisted (outbound relays of partners, monitoring). */
    whitelist: z.array(cidrSchema).default([]),
    /** How wide a network counts as one sending pool. */
    ipv4_prefix: z.number().int().min(8).max(32).default(24),
    ipv6_prefix: z.number().int().min(16).max(128).default(64),
    /** Trust-list checks whose pass exempts the client. */
    trusted_checks: z.array(z.string().min(1)).default(['rttl']),
  })
  .refine((options) => options.delay < options.retry_window, {
    message: 'delay must be shorter than retry_window, or no retry could ever pass',
    path: ['delay'],
  });

export type GreylistOptions = z.output<typeof greylistOptionsSchema>;

const GREYLISTED = 'Greylisted, please try again later';

function exempt(why: string): CheckResult {
  return { result: 'none', details: { greylist: 'exempt', exempt: why } };
}

function resultOf(verdict: GreylistVerdict): CheckResult {
  switch (verdict.kind) {
    case 'new':
      return { result: 'fail', reason: GREYLISTED, details: { greylist: 'new' } };
    case 'early':
      return {
        result: 'fail',
        reason: GREYLISTED,
        details: { greylist: 'early', wait_seconds: String(Math.ceil(verdict.waitMs / 1000)) },
      };
    case 'passed':
      return {
        result: 'pass',
        details: { greylist: 'passed', delayed_seconds: String(Math.round(verdict.afterMs / 1000)) },
      };
    case 'known':
      return { result: 'pass', details: { greylist: 'known' } };
  }
}

function whitelisted(ip: string, blocks: readonly Cidr[]): boolean {
  return blocks.some((block) => inCidr(ip, block));
}

/**
 * Greylisting: the first delivery attempt of an unknown (client network, sender, recipient) triplet
 * is deferred; a real MTA retries after the delay and is remembered, much spamware never retries.
 */
export const greylist: Check<GreylistOptions> = {
  name: 'greylist',
  stage: 'rcpt',
  method: 'x-greylist',
  async run({ client, session, mailFrom, rcpt, earlier, options, now }) {
    if (session.user !== undefined) return exempt('authenticated');
    const ip = plainIp(client.ip);
    if (whitelisted(ip, options.whitelist)) return exempt('whitelist');
    const trustedBy = options.trusted_checks.find((name) => earlier.get(name)?.result === 'pass');
    if (trustedBy !== undefined) return exempt(trustedBy);
    if (rcpt === undefined) throw new Error('greylist runs at the rcpt stage and needs the recipient');
    const triplet = makeTriplet(ip, mailFrom ?? '', rcpt, {
      ipv4: options.ipv4_prefix,
      ipv6: options.ipv6_prefix,
    });
    const policy: GreylistPolicy = {
      delayMs: options.delay,
      retryWindowMs: options.retry_window,
      expireMs: options.expire,
    };
    return resultOf(sharedGreylistStore(options.path).decide(triplet, now(), policy));
  },
};

/** Registration: a greylisted attempt is deferred with 451 4.7.1; a broken store defers too. */
export const greylistRegistration: CheckRegistration<GreylistOptions> = {
  check: greylist,
  optionsSchema: greylistOptionsSchema,
  defaults: { fail: 'defer', temperror: 'defer' },
};

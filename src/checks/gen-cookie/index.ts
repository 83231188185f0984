import { z } from 'zod';
import { compareGenerations, decodeCookie, MAX_EPOCH, MAX_HASHES, normalizeZone } from '../../gen/chain.js';
import { DEFAULT_MAX_AGE, describeComparison, makeServerState } from '../../gen/server-state.js';
import { readXgenOffer } from '../../gen/xgen.js';
import type { Check, CheckRegistration } from '../../pipeline/check.js';

/** The server's own generation, as `outpost gen show`/the state file reports it. */
export type GenCookieOptions = {
  zone: string;
  epoch: number;
  /** Our cookie k[epoch], base64. */
  cookie: string;
  maxAge: number;
};

/** Check block keys: zone, epoch, cookie and max_age (maxAge is accepted too). */
export const genCookieOptionsSchema = z
  .object({
    zone: z.string().refine((zone) => {
      try {
        normalizeZone(zone);
        return true;
      } catch {
        return false;
      }
    }, 'expected a zone name such as "gen.example"'),
    epoch: z.number().int().min(0).max(MAX_EPOCH),
    cookie: z.string().refine((text) => decodeCookie(text) !== undefined, 'expected the base64 of 32 bytes'),
    max_age: z.number().int().min(0).max(MAX_HASHES).optional(),
    maxAge: z.number().int().min(0).max(MAX_HASHES).optional(),
  })
  .strict()
  .transform(
    ({ zone, epoch, cookie, max_age, maxAge }): GenCookieOptions => ({
      zone,
      epoch,
      cookie,
      maxAge: max_age ?? maxAge ?? DEFAULT_MAX_AGE,
    }),
  );

/** Generation cookie: is the peer's XGEN offer on our chain, and not too many generations behind us? */
export const genCookie: Check<GenCookieOptions> = {
  name: 'gen-cookie',
  stage: 'mail',
  async run({ session, options }) {
    const own = makeServerState(options);
    const offer = readXgenOffer(session.state);
    if (offer === undefined || offer.zone.toLowerCase().replace(/\.$/, '') !== own.zone)
      return { result: 'none' };
    const comparison = compareGenerations({
      zone: own.zone,
      ownEpoch: own.epoch,
      ownCookie: own.cookie,
      peerEpoch: offer.epoch,
      peerCookie: offer.cookie,
      maxAge: own.maxAge,
    });
    const props = { 'policy.zone': own.zone, 'policy.epoch': String(offer.epoch) };
    if (comparison.result === 'pass') return { result: 'pass', props };
    return {
      result: 'fail',
      reason: describeComparison(comparison),
      props,
      replyCode: { code: 554, enhanced: '5.7.0' },
    };
  },
};

/** Configuration hook: refuse peers off the chain or too old; accept those that offer nothing. */
export const genCookieRegistration: CheckRegistration<GenCookieOptions> = {
  check: genCookie,
  optionsSchema: genCookieOptionsSchema,
  defaults: { fail: 'reject' },
};

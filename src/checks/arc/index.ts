import type { ARCData, DNSResolver } from 'mailauth';
import { arc } from 'mailauth/lib/arc/index.js';
import { z } from 'zod';
import { isDnsError, isNoRecords } from '../../dns/types.js';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { plainIp } from '../../pipeline/ip.js';
import { mailauthResolver } from '../dkim/mailauth-resolver.js';
import { verifyMessageOnce } from '../dkim/verify.js';

/** Options of the arc check. */
export const arcOptionsSchema = z.strictObject({
  /** RSA keys shorter than this many bits are not accepted for seals and message signatures. */
  min_key_bits: z.number().int().min(512).max(16384).default(1024),
});

export type ArcOptions = z.output<typeof arcOptionsSchema>;

/** A resolver that remembers whether a lookup failed for a reason other than "no such record". */
function recordingTemporaryFailures(resolver: DNSResolver): { resolver: DNSResolver; failed: () => boolean } {
  let failed = false;
  return {
    resolver: async (name, type) => {
      try {
        return await resolver(name, type);
      } catch (error) {
        if (isDnsError(error) && !isNoRecords(error)) failed = true;
        throw error;
      }
    },
    failed: () => failed,
  };
}

/**
 * ARC (RFC 8617): validates the chain of ARC sets forwarders added: every ARC-Seal, and the newest
 * ARC-Message-Signature. `pass` with `details.instance` (the newest set) and `details.signer`,
 * `fail` with the reason, `none` without a chain; a chain that could not be validated because a key
 * lookup failed temporarily is `temperror` (RFC 8617 itself knows only pass, fail and none).
 * `details.cv` is the value a forwarder puts into its own seal (src/arc/seal.ts).
 */
export const arcCheck: Check<ArcOptions> = {
  name: 'arc',
  stage: 'data',
  async run({ message, dns, client, options, now }): Promise<CheckResult> {
    if (message === undefined) return { result: 'none', reason: 'no message to verify' };
    const verified = await verifyMessageOnce(message, dns, { minKeyBits: options.min_key_bits, now: now() });
    const props = { 'smtp.remote-ip': plainIp(client.ip) };
    const data = verified.arc;
    // No ARC header fields at all; a malformed chain is an error mailauth reports as fail below.
    if (data === undefined || (data.chain === false && data.error === undefined)) {
      return { result: 'none', props, details: { cv: 'none' } };
    }
    const lookups = recordingTemporaryFailures(mailauthResolver(dns));
    // mailauth hands arc() the object its verifier built (chain, error, shared key cache) as is.
    const outcome = await arc(data as ARCData, {
      resolver: lookups.resolver,
      minBitLength: options.min_key_bits,
      strict: true,
      ip: props['smtp.remote-ip'],
    });
    const instance = String(outcome.i === false ? 0 : outcome.i);
    if (outcome.status.result === 'pass') {
      const signer = outcome.signature === false ? undefined : outcome.signature?.signingDomain;
      return { result: 'pass', props, details: { cv: 'pass', instance, ...(signer ? { signer } : {}) } };
    }
    const unverifiedSignature = data.lastEntry?.messageSignature?.status.result === 'temperror';
    return {
      result: lookups.failed() || unverifiedSignature ? 'temperror' : 'fail',
      reason: `ARC: ${outcome.status.comment ?? 'the chain does not validate'}`,
      props,
      details: { cv: 'fail', instance },
    };
  },
};

/** Registration: ARC informs local policy (e.g. trusting a known forwarder); alone it refuses nothing. */
export const arcRegistration: CheckRegistration<ArcOptions> = {
  check: arcCheck,
  optionsSchema: arcOptionsSchema,
  defaults: {},
};

import { z } from 'zod';
import type { Check, CheckRegistration } from '../../pipeline/check.js';
import { dkimCheckResult } from './results.js';
import { verifyMessageOnce } from './verify.js';

/** Options of the dkim check. */
export const dkimOptionsSchema = z.strictObject({
  /** RSA keys shorter than this many bits are not accepted (RFC 8301: at least 1024). */
  min_key_bits: z.number().int().min(512).max(16384).default(1024),
});

export type DkimOptions = z.output<typeof dkimOptionsSchema>;

/**
 * DKIM (RFC 6376; RSA-SHA256 and Ed25519-SHA256, RFC 8463): verifies every DKIM-Signature of the
 * message against the key at `<s>._domainkey.<d>`; one Authentication-Results entry per signature,
 * `pass` overall when any signature passes. Each entry's `details` name its domain and selector.
 */
export const dkimCheck: Check<DkimOptions> = {
  name: 'dkim',
  stage: 'data',
  async run({ message, dns, options, now }) {
    if (message === undefined) return { result: 'none', reason: 'no message to verify' };
    const verified = await verifyMessageOnce(message, dns, { minKeyBits: options.min_key_bits, now: now() });
    return dkimCheckResult(verified.results);
  },
};

/** Registration: informational by default; a failed signature counts as no signature (RFC 6376 6.3). */
export const dkimRegistration: CheckRegistration<DkimOptions> = {
  check: dkimCheck,
  optionsSchema: dkimOptionsSchema,
  defaults: {},
};

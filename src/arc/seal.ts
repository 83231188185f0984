import { createSeal } from 'mailauth/lib/arc/index.js';
import { authResultsValue } from '../pipeline/auth-results.js';
import type { CheckResult } from '../pipeline/check.js';

/** The chain validation status a forwarder records in its seal (RFC 8617 section 4.1.3, `cv=`). */
export type ChainValidation = 'none' | 'pass' | 'fail';

const CHAIN_VALIDATIONS: ReadonlySet<string> = new Set<ChainValidation>(['none', 'pass', 'fail']);

/**
 * The cv= value for sealing a message, from the arc check's result for it (its `details.cv`);
 * undefined when the arc check did not run or could not tell (temperror: do not seal as if it had).
 */
export function chainValidationOf(arcResult: CheckResult | undefined): ChainValidation | undefined {
  const cv = arcResult?.result === 'temperror' ? undefined : arcResult?.details?.cv;
  return cv !== undefined && CHAIN_VALIDATIONS.has(cv) ? (cv as ChainValidation) : undefined;
}

/** How outpost seals a message it forwards. */
export interface ArcSealOptions {
  /** The sealing domain (d=) and selector (s=); the public key is at `<selector>._domainkey.<domain>`. */
  domain: string;
  selector: string;
  /** PEM (RSA or Ed25519); the algorithm follows the key: rsa-sha256 or ed25519-sha256. */
  privateKey: string | Buffer;
  /** Our authserv-id, as in our Authentication-Results. */
  authservId: string;
  /**
   * What we found, as resinfo after the authserv-id of our Authentication-Results, e.g.
   * `spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org`; `none` when nothing was checked.
   */
  authResults: string;
  /**
   * The arc check's result for the incoming message. Required when the message already carries
   * ARC sets; without any, the first set is sealed with cv=none.
   */
  chainValidation?: ChainValidation;
  /** Signing time (t=); now when not given. */
  signTime?: Date;
}

/** The three header fields of the new ARC set, to prepend to the message, and its instance. */
export interface ArcSet {
  /** ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results, each ending in CRLF. */
  headers: string;
  instance: number;
}

/**
 * Adds outpost's ARC set (RFC 8617 section 5.1) to a message it forwards: the
 * ARC-Authentication-Results with what we verified, an ARC-Message-Signature over the message as it
 * leaves, and an ARC-Seal over the whole chain. Throws when no set can be made: an unusable key, a
 * chain that already ended with cv=fail, or an existing chain without `chainValidation`.
 */
export async function arcSeal(message: Buffer, options: ArcSealOptions): Promise<ArcSet> {
  const sealed = await createSeal(message, {
    seal: {
      signingDomain: options.domain,
      selector: options.selector,
      privateKey: options.privateKey,
      authResults: `${authResultsValue(options.authservId)}; ${options.authResults}`,
      ...(options.chainValidation === undefined ? {} : { cv: options.chainValidation }),
      ...(options.signTime === undefined ? {} : { signTime: options.signTime }),
    },
    strict: true,
  });
  const [seal, messageSignature, authResults] = sealed.headers;
  if (seal === undefined || messageSignature === undefined || authResults === undefined) {
    const why = sealed.errors[0]?.err.message ?? 'no ARC set was made';
    throw new Error(`ARC sealing failed: ${why}`);
  }
  const instance = Number(/^ARC-Authentication-Results:\s*i=(\d+);/i.exec(authResults)?.[1]);
  return { headers: `${seal}\r\n${messageSignature}\r\n${authResults}\r\n`, instance };
}

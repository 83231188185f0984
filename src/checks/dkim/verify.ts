import type { DKIMVerifyResult } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { Resolver } from '../../dns/types.js';
import { mailauthResolver } from './mailauth-resolver.js';

/** How signatures are verified. */
export interface DkimVerifyOptions {
  /** RSA keys shorter than this are not accepted (RFC 8301 asks for 1024 at least). */
  minKeyBits: number;
  /** The time expiry (x=) is judged against, in milliseconds. */
  now: number;
}

// The dkim, arc and dmarc checks of one message all need mailauth's verification of that message
// (signatures, ARC chain, From domains). It is done once per message, DNS view and key-size rule:
// the entries live as long as the message buffer, so nothing outlives the message.
const verifications = new WeakMap<Buffer, WeakMap<Resolver, Map<number, Promise<DKIMVerifyResult>>>>();

/**
 * Every DKIM-Signature (RSA-SHA256, Ed25519-SHA256; RFC 6376, 8301, 8463) and the newest
 * ARC-Message-Signature of a message, verified by mailauth in its strict mode with keys from `dns`.
 * Repeated calls for the same message, view and key-size rule share one verification.
 */
export function verifyMessageOnce(
  message: Buffer,
  dns: Resolver,
  options: DkimVerifyOptions,
): Promise<DKIMVerifyResult> {
  let byView = verifications.get(message);
  if (byView === undefined) {
    byView = new WeakMap();
    verifications.set(message, byView);
  }
  let byKeySize = byView.get(dns);
  if (byKeySize === undefined) {
    byKeySize = new Map();
    byView.set(dns, byKeySize);
  }
  const known = byKeySize.get(options.minKeyBits);
  if (known !== undefined) return known;
  const started = dkimVerify(message, {
    resolver: mailauthResolver(dns),
    minBitLength: options.minKeyBits,
    curTime: options.now,
    strict: true,
  });
  byKeySize.set(options.minKeyBits, started);
  return started;
}

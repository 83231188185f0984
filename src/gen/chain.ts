import { createHash, timingSafeEqual } from 'node:crypto';

/*
 * The generation-cookie hash chain (docs/protocols/gen-cookies.md):
 * k[L] = seed, k[i] = SHA-256("outpost-gen1" || zone || uint32be(i) || k[i+1]); epoch e's cookie is k[e].
 * Hashing a cookie moves back in time, so anyone can check an older cookie from a newer one but
 * nobody can compute a future cookie without the seed.
 */

const DOMAIN_TAG = Buffer.from('outpost-gen1', 'ascii');

/** Every cookie (and the seed) is one SHA-256 output. */
export const COOKIE_BYTES = 32;

/** Epochs are encoded as 4 bytes, so this is the largest epoch (and chain length) there can be. */
export const MAX_EPOCH = 0xffff_ffff;

/**
 * Most hashes one comparison may compute. A peer announcing an absurd epoch must not make us burn
 * CPU per MAIL (10 000 links took about 22 ms here); a real chain advances about once a year.
 */
export const MAX_HASHES = 10_000;

/** Lower-cases a zone, drops one trailing dot and checks it is an ASCII host name; throws when not. */
export function normalizeZone(zone: string): string {
  const name = zone.toLowerCase().replace(/\.$/, '');
  const label = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((part) => label.test(part))) {
    throw new Error(`"${zone}" is not a valid zone name (ASCII letters, digits, "-" and "." only)`);
  }
  return name;
}

function assertEpoch(epoch: number, what: string): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new RangeError(`${what} must be an integer from 0 to ${MAX_EPOCH}, got ${epoch}`);
  }
}

function assertCookie(cookie: Uint8Array, what: string): void {
  if (cookie.length !== COOKIE_BYTES) {
    throw new RangeError(`${what} must be ${COOKIE_BYTES} bytes, got ${cookie.length}`);
  }
}

/** One link: k[index] from k[index + 1]. The zone must already be normalized. */
function link(zone: string, index: number, next: Uint8Array): Buffer {
  const indexBytes = Buffer.alloc(4);
  indexBytes.writeUInt32BE(index);
  return createHash('sha256')
    .update(DOMAIN_TAG)
    .update(Buffer.from(zone, 'ascii'))
    .update(indexBytes)
    .update(next)
    .digest();
}

/** The whole chain k[0] .. k[length] (k[length] is the seed), indexed by epoch. */
export function deriveChain(seed: Uint8Array, zone: string, length: number): Buffer[] {
  assertCookie(seed, 'seed');
  assertEpoch(length, 'chain length');
  const name = normalizeZone(zone);
  const chain: Buffer[] = new Array(length + 1);
  let current: Buffer = Buffer.from(seed);
  chain[length] = current;
  for (let index = length - 1; index >= 0; index--) {
    current = link(name, index, current);
    chain[index] = current;
  }
  return chain;
}

/** Epoch `epoch`'s cookie k[epoch], hashed down from the seed in O(length) time and O(1) memory. */
export function cookieFor(seed: Uint8Array, zone: string, length: number, epoch: number): Buffer {
  assertCookie(seed, 'seed');
  assertEpoch(length, 'chain length');
  assertEpoch(epoch, 'epoch');
  if (epoch > length) throw new RangeError(`epoch ${epoch} is beyond the chain's length ${length}`);
  return hashBack(seed, zone, length, length - epoch);
}

/** k[fromEpoch - steps] from k[fromEpoch]: `steps` applications of the link function. */
export function hashBack(cookie: Uint8Array, zone: string, fromEpoch: number, steps: number): Buffer {
  assertCookie(cookie, 'cookie');
  assertEpoch(fromEpoch, 'epoch');
  if (!Number.isInteger(steps) || steps < 0 || steps > fromEpoch) {
    throw new RangeError(`cannot hash back ${steps} steps from epoch ${fromEpoch}`);
  }
  const name = normalizeZone(zone);
  let current: Buffer = Buffer.from(cookie);
  for (let index = fromEpoch - 1; index >= fromEpoch - steps; index--) {
    current = link(name, index, current);
  }
  return current;
}

/** Constant-time equality of two cookies (false, not an exception, when the lengths differ). */
export function sameCookie(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a server at epoch `ownEpoch` knows, and what a peer offered. */
export interface GenerationOffer {
  zone: string;
  ownEpoch: number;
  ownCookie: Uint8Array;
  peerEpoch: number;
  peerCookie: Uint8Array;
  /** How many generations older than us a peer may be and still pass. */
  maxAge: number;
}

/** The outcome of comparing a peer's generation with ours. */
export type GenerationComparison =
  | { result: 'pass'; generationsNewer: number }
  | { result: 'pass'; generationsOlder: number }
  | { result: 'fail'; reason: 'not-on-chain' }
  | { result: 'fail'; reason: 'too-old'; generationsOlder: number };

/**
 * Peer newer or equal (p >= m): hash the peer's cookie (p - m) times, it must reach our k[m].
 * Peer older (p < m): refuse when m - p > maxAge, else hash our cookie (m - p) times to reach theirs.
 * Our own values are trusted (a bad one throws); the peer's are not (a bad one fails).
 */
export function compareGenerations(offer: GenerationOffer): GenerationComparison {
  const { zone, ownEpoch, ownCookie, peerEpoch, peerCookie, maxAge } = offer;
  assertEpoch(ownEpoch, 'own epoch');
  assertCookie(ownCookie, 'own cookie');
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > MAX_HASHES) {
    throw new RangeError(`maxAge must be an integer from 0 to ${MAX_HASHES}, got ${maxAge}`);
  }
  const peerValid =
    Number.isInteger(peerEpoch) &&
    peerEpoch >= 0 &&
    peerEpoch <= MAX_EPOCH &&
    peerCookie.length === COOKIE_BYTES;
  if (!peerValid) return { result: 'fail', reason: 'not-on-chain' };

  if (peerEpoch >= ownEpoch) {
    const steps = peerEpoch - ownEpoch;
    if (steps > MAX_HASHES) return { result: 'fail', reason: 'not-on-chain' };
    const reached = hashBack(peerCookie, zone, peerEpoch, steps);
    return sameCookie(reached, ownCookie)
      ? { result: 'pass', generationsNewer: steps }
      : { result: 'fail', reason: 'not-on-chain' };
  }

  const age = ownEpoch - peerEpoch;
  if (age > maxAge) return { result: 'fail', reason: 'too-old', generationsOlder: age };
  const reached = hashBack(ownCookie, zone, ownEpoch, age);
  return sameCookie(reached, peerCookie)
    ? { result: 'pass', generationsOlder: age }
    : { result: 'fail', reason: 'not-on-chain' };
}

/** Decodes a cookie from canonical base64 (exactly 32 bytes); undefined for anything else. */
export function decodeCookie(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // The last character carries 2 unused bits; only the canonical spelling is accepted.
  return bytes.length === COOKIE_BYTES && bytes.toString('base64') === text ? bytes : undefined;
}

/** Encodes a cookie as base64 (the form used in DNS, SMTP and state files). */
export function encodeCookie(cookie: Uint8Array): string {
  return Buffer.from(cookie).toString('base64');
}

import { createHmac } from 'node:crypto';

/**
 * Sender Rewriting Scheme (Shevek's SRS, as in Mail::SRS::Guarded and libsrs2/postsrsd): a
 * forwarder rewrites the envelope sender into an address at its own domain that carries the
 * original, so SPF at the next hop checks the forwarder, and bounces come back to it to be reversed.
 *
 *   SRS0=HHHH=TT=domain=local@forwarder                       (first forwarder)
 *   SRS1=HHHH=first-forwarder==HHHH=TT=domain=local@forwarder  (any later forwarder)
 *
 * HHHH: the first 4 characters of base64(HMAC-SHA1(secret, the hashed fields lower-cased and
 * concatenated)); TT: the day number modulo 1024 in two base32 characters.
 */

/** One secret, or several newest first: forwarding uses the first, reversing accepts any (rotation). */
export type SrsSecrets = string | readonly string[];

/** Why an address could not be reversed. */
export type SrsReverseError = 'malformed' | 'bad-hash' | 'expired';

/** The outcome of reversing an SRS address. */
export type SrsReverseResult =
  | { ok: true; address: string }
  | { ok: false; error: SrsReverseError; detail: string };

/** Timestamps older than this many days are refused (Mail::SRS's default). */
export const SRS_DEFAULT_MAX_AGE_DAYS = 21;

const HASH_LENGTH = 4;
const DAY_MS = 86_400_000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Two base32 characters: the timestamp cycles every 1024 days. */
const TIME_SLOTS = BASE32.length * BASE32.length;
const SRS0 = /^SRS0[-+=]/i;
const SRS1 = /^SRS1[-+=]/i;
/** Inside an SRS address every separator after the tag is '=' (the tag's own may be '-' or '+'). */
const SEPARATOR = '=';

/** True when a local part is an SRS0 or SRS1 address (the tag followed by '=', '-' or '+'). */
export function isSrsAddress(local: string): boolean {
  return SRS0.test(local) || SRS1.test(local);
}

/**
 * The envelope sender to use when forwarding `sender` from `forwarderDomain` (`now` in ms). The null
 * sender stays null, a sender already at the forwarder's domain is kept, an SRS0 or SRS1 address
 * becomes SRS1 (pointing back at the first forwarder), anything else becomes SRS0.
 */
export function srsForward(sender: string, forwarderDomain: string, secret: SrsSecrets, now: number): string {
  if (sender === '') return '';
  const split = splitAddress(sender);
  if (split === undefined) throw new Error(`cannot rewrite sender "${sender}": no domain`);
  const { local, domain } = split;
  if (asciiLower(domain) === asciiLower(forwarderDomain)) return sender;
  const key = signingSecret(secret);
  if (SRS1.test(local)) {
    const [, host, user] = splitLimit(local.slice(5), 3);
    // A malformed SRS1 cannot be shortened; wrapping it as a plain address still reverses to it.
    if (host && user) return `SRS1=${hash(key, [host, user])}=${host}=${user}@${forwarderDomain}`;
  } else if (SRS0.test(local)) {
    // The SRS0 part keeps its own separator: "SRS0=H=T=d=l@first" -> "...=first==H=T=d=l".
    const user = local.slice(4);
    return `SRS1=${hash(key, [domain, user])}=${domain}=${user}@${forwarderDomain}`;
  }
  const stamp = timestamp(now);
  return `SRS0=${hash(key, [stamp, domain, local])}=${stamp}=${domain}=${local}@${forwarderDomain}`;
}

/**
 * The address a bounce to an SRS address goes to (`now` in ms): the original sender for SRS0, the
 * first forwarder's SRS0 address for SRS1. The domain after '@' is not looked at; accept SRS
 * addresses only at your own domains.
 */
export function srsReverse(
  address: string,
  secret: SrsSecrets,
  now: number,
  maxAgeDays: number = SRS_DEFAULT_MAX_AGE_DAYS,
): SrsReverseResult {
  const local = splitAddress(address)?.local;
  if (local === undefined) return refused('malformed', `"${address}" is not an address`);
  if (SRS0.test(local)) return reverseSrs0(local.slice(5), secrets(secret), now, maxAgeDays);
  if (SRS1.test(local)) return reverseSrs1(local.slice(5), secrets(secret));
  return refused('malformed', `"${local}" is not an SRS address`);
}

function reverseSrs0(
  rest: string,
  keys: readonly string[],
  now: number,
  maxAgeDays: number,
): SrsReverseResult {
  const [givenHash, stamp, host, user] = splitLimit(rest, 4);
  if (givenHash === undefined || stamp === undefined || !host || !user) {
    return refused('malformed', 'an SRS0 address needs hash, timestamp, domain and local part');
  }
  if (!hashMatches(givenHash, keys, [stamp, host, user]))
    return refused('bad-hash', 'the hash does not match');
  const days = decodeTimestamp(stamp);
  if (days === undefined) return refused('malformed', `"${stamp}" is not a timestamp`);
  if (!timestampFresh(days, now, maxAgeDays)) {
    return refused('expired', `the timestamp is more than ${maxAgeDays} days old`);
  }
  return { ok: true, address: `${user}@${host}` };
}

function reverseSrs1(rest: string, keys: readonly string[]): SrsReverseResult {
  const [givenHash, host, user] = splitLimit(rest, 3);
  // A dot where the hash belongs is an unsigned ("hashless") SRS1, which anyone could forge.
  if (givenHash === undefined || givenHash.includes('.') || !host || !user) {
    return refused('malformed', 'an SRS1 address needs hash, first forwarder and SRS0 part');
  }
  if (!hashMatches(givenHash, keys, [host, user])) return refused('bad-hash', 'the hash does not match');
  return { ok: true, address: `SRS0${user}@${host}` };
}

function refused(error: SrsReverseError, detail: string): SrsReverseResult {
  return { ok: false, error, detail };
}

function secrets(secret: SrsSecrets): readonly string[] {
  const list = typeof secret === 'string' ? [secret] : secret;
  if (list.length === 0 || list.some((key) => key === '')) throw new Error('SRS needs a non-empty secret');
  return list;
}

function signingSecret(secret: SrsSecrets): string {
  const [first = ''] = secrets(secret);
  return first;
}

/** The whole base64 HMAC (unpadded, 27 characters); addresses carry a prefix of it. */
function fullHash(key: string, fields: readonly string[]): string {
  const hmac = createHmac('sha1', key);
  for (const field of fields) hmac.update(asciiLower(field), 'utf8');
  return hmac.digest('base64').replace(/=+$/, '');
}

function hash(key: string, fields: readonly string[]): string {
  return fullHash(key, fields).slice(0, HASH_LENGTH);
}

/**
 * Compares the given hash with the same-length prefix of each secret's HMAC; exactly first, then
 * ignoring case, since some MTAs smash the case of local parts (Mail::SRS and libsrs2 accept that).
 */
function hashMatches(given: string, keys: readonly string[], fields: readonly string[]): boolean {
  if (given.length < HASH_LENGTH) return false;
  const expected = keys.map((key) => fullHash(key, fields).slice(0, given.length));
  if (expected.includes(given)) return true;
  const lower = given.toLowerCase();
  return expected.some((candidate) => candidate.toLowerCase() === lower);
}

function timestamp(now: number): string {
  const days = Math.floor(now / DAY_MS);
  return `${BASE32[(days >> 5) & 31]}${BASE32[days & 31]}`;
}

function decodeTimestamp(stamp: string): number | undefined {
  if (!/^[A-Z2-7]{2}$/i.test(stamp)) return undefined;
  let days = 0;
  for (const char of stamp.toUpperCase()) days = days * BASE32.length + BASE32.indexOf(char);
  return days;
}

/** Mail::SRS/libsrs2: today's slot, moved up by whole cycles until it is not before the stamp. */
function timestampFresh(stampDays: number, now: number, maxAgeDays: number): boolean {
  let today = Math.floor(now / DAY_MS) % TIME_SLOTS;
  if (today < stampDays) today += TIME_SLOTS;
  return today <= stampDays + maxAgeDays;
}

/** Splits at the last '@' (a quoted local part may contain '@'). */
function splitAddress(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** Perl's split(/=/, text, limit): at most `limit` fields, the last keeps the remaining separators. */
function splitLimit(text: string, limit: number): string[] {
  const fields: string[] = [];
  let rest = text;
  while (fields.length < limit - 1) {
    const at = rest.indexOf(SEPARATOR);
    if (at < 0) break;
    fields.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  fields.push(rest);
  return fields;
}

/** libsrs2 and Mail::SRS lower-case bytes the C way: ASCII letters only. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (char) => char.toLowerCase());
}

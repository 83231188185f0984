import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * TMDA-compatible address cookies (docs/protocols/challenge.md): HMAC-SHA1 with a 20-byte key over
 * the fields concatenated without separator, truncated to 3 bytes (6 lower-case hex characters).
 * Addresses look like LOCAL-TAG-COOKIE@DOMAIN, so a reply to a challenge proves the sender got it.
 */

/** A TMDA key: 20 raw bytes, or the 40 hex characters TMDA keeps in its crypt_key file. */
export type CryptKey = Uint8Array | string;

/** The four address tags TMDA understands. */
export const TAGS = ['confirm', 'dated', 'sender', 'keyword'] as const;
export type Tag = (typeof TAGS)[number];

/** TMDA's recipient delimiter between local part, tag and cookie. */
export const DELIMITER = '-';

/** The keyword TMDA puts in the confirm cookies of real challenges. */
export const CONFIRM_KEYWORD = 'accept';

/** TMDA's default lifetime of a dated address: 5 days, in seconds. */
export const DATED_TIMEOUT_SECONDS = 5 * 24 * 60 * 60;

/** Why a cookie did not verify. */
export type CookieFailure = 'malformed' | 'bad-mac' | 'expired';

/** The outcome of verifying a cookie, with what it carried when valid. */
export type CookieVerdict<T extends object = object> =
  | ({ ok: true } & T)
  | { ok: false; reason: CookieFailure };

const MAC_HEX = /^[0-9a-f]{6}$/;

function keyBytes(key: CryptKey): Buffer {
  if (typeof key !== 'string') {
    if (key.length !== 20) throw new Error(`a TMDA key is 20 bytes, got ${key.length}`);
    return Buffer.from(key);
  }
  if (!/^[0-9a-fA-F]{40}$/.test(key)) throw new Error('a TMDA key is 40 hexadecimal characters');
  return Buffer.from(key, 'hex');
}

/** The truncated MAC: first 3 bytes of HMAC-SHA1(key, input), as 6 lower-case hex characters. */
export function tmdaMac(key: CryptKey, input: string): string {
  return createHmac('sha1', keyBytes(key)).update(input, 'utf8').digest().subarray(0, 3).toString('hex');
}

function macMatches(key: CryptKey, input: string, mac: string): boolean {
  const expected = Buffer.from(tmdaMac(key, input), 'ascii');
  const offered = Buffer.from(mac, 'ascii');
  return expected.length === offered.length && timingSafeEqual(expected, offered);
}

/** Confirm cookie `TS.PID.MAC`, MAC over TS + PID + keyword (empty in the basic form). */
export function confirmCookie(key: CryptKey, ts: number, pid: number, keyword = ''): string {
  return `${ts}.${pid}.${tmdaMac(key, `${ts}${pid}${keyword}`)}`;
}

/** Verifies a confirm cookie made with the same keyword; yields its timestamp and process id. */
export function verifyConfirm(
  key: CryptKey,
  cookie: string,
  keyword = '',
): CookieVerdict<{ ts: number; pid: number }> {
  const match = /^(\d{1,15})\.(\d{1,15})\.([0-9a-f]{6})$/.exec(cookie);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, ts = '', pid = '', mac = ''] = match;
  if (!macMatches(key, `${ts}${pid}${keyword}`, mac)) return { ok: false, reason: 'bad-mac' };
  return { ok: true, ts: Number(ts), pid: Number(pid) };
}

/** Dated cookie `EXPIRE.MAC`, MAC over EXPIRE (a Unix time in seconds). */
export function datedCookie(key: CryptKey, expireTs: number): string {
  return `${expireTs}.${tmdaMac(key, String(expireTs))}`;
}

/** Verifies a dated cookie; it is expired once `now` (Unix seconds) is past EXPIRE. */
export function verifyDated(key: CryptKey, cookie: string, now: number): CookieVerdict<{ expires: number }> {
  const match = /^(\d{1,15})\.([0-9a-f]{6})$/.exec(cookie);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, expire = '', mac = ''] = match;
  if (!macMatches(key, expire, mac)) return { ok: false, reason: 'bad-mac' };
  const expires = Number(expire);
  return now > expires ? { ok: false, reason: 'expired' } : { ok: true, expires };
}

/** Sender cookie: the MAC of the lower-cased sender address (or a domain it should accept). */
export function senderCookie(key: CryptKey, address: string): string {
  return tmdaMac(key, address.toLowerCase());
}

/**
 * Verifies a sender cookie against the envelope sender: the full address, then its domain, then
 * the domain minus each leading label (so a cookie made for example.com accepts a@mx.example.com).
 */
export function verifySender(key: CryptKey, cookie: string, sender: string): CookieVerdict {
  if (!MAC_HEX.test(cookie)) return { ok: false, reason: 'malformed' };
  const address = sender.toLowerCase();
  const labels = address.slice(address.lastIndexOf('@') + 1).split('.');
  const candidates = [address, ...labels.map((_, index) => labels.slice(index).join('.'))];
  // Every candidate is tried, so the time taken does not tell which one matched.
  const matched = candidates.map((candidate) => macMatches(key, candidate, cookie)).some(Boolean);
  return matched ? { ok: true } : { ok: false, reason: 'bad-mac' };
}

/**
 * TMDA's keyword cleaning: characters outside its atom class become "?", and so does the
 * delimiter. TMDA's class is written `'*+-/` in a regex, a range that also keeps "," and ".".
 */
export function cleanKeyword(keyword: string): string {
  return keyword.replace(/[^a-zA-Z0-9!#$%&'*+,\-./=?^_`{|}~]/gu, '?').replaceAll(DELIMITER, '?');
}

/** Keyword cookie `KW.MAC` (KW lower-cased and cleaned, as TMDA builds keyword addresses). */
export function keywordCookie(key: CryptKey, keyword: string): string {
  const cleaned = cleanKeyword(keyword.toLowerCase());
  return `${cleaned}.${tmdaMac(key, cleaned)}`;
}

/** Verifies a keyword cookie (the MAC follows the last "."); yields the keyword. */
export function verifyKeyword(key: CryptKey, cookie: string): CookieVerdict<{ keyword: string }> {
  const dot = cookie.lastIndexOf('.');
  const keyword = cookie.slice(0, Math.max(dot, 0));
  const mac = cookie.slice(dot + 1);
  if (dot <= 0 || !MAC_HEX.test(mac)) return { ok: false, reason: 'malformed' };
  return macMatches(key, keyword, mac) ? { ok: true, keyword } : { ok: false, reason: 'bad-mac' };
}

/** A tagged address, LOCAL-TAG-COOKIE@DOMAIN. */
export function makeTaggedAddress(local: string, tag: Tag, cookie: string, domain: string): string {
  return `${local}${DELIMITER}${tag}${DELIMITER}${cookie}@${domain}`;
}

/** The parts of a tagged address, or undefined when it carries no known tag. */
export interface TaggedAddress {
  local: string;
  tag: Tag;
  cookie: string;
  domain: string;
}

/**
 * Splits LOCAL-TAG-COOKIE@DOMAIN from the right, so the local part may itself contain "-".
 * Tag, cookie and domain are lower-cased as TMDA does (cookies are hex or lower-case keywords).
 */
export function parseTaggedAddress(address: string): TaggedAddress | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  const localPart = address.slice(0, at);
  const cookieStart = localPart.lastIndexOf(DELIMITER);
  const tagStart = localPart.lastIndexOf(DELIMITER, cookieStart - 1);
  if (cookieStart <= 0 || tagStart <= 0) return undefined;
  const tag = localPart.slice(tagStart + 1, cookieStart).toLowerCase();
  const cookie = localPart.slice(cookieStart + 1).toLowerCase();
  if (cookie === '' || !(TAGS as readonly string[]).includes(tag)) return undefined;
  return {
    local: localPart.slice(0, tagStart),
    tag: tag as Tag,
    cookie,
    domain: address.slice(at + 1).toLowerCase(),
  };
}

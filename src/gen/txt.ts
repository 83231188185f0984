import { decodeCookie, encodeCookie, MAX_EPOCH, normalizeZone } from './chain.js';

/* The DNS and zone-file form of a released generation: `_gen.<zone> TXT "v=gen1; e=<epoch>; k=<base64>"`. */

/** A release as published in DNS. */
export interface GenRelease {
  epoch: number;
  cookie: Buffer;
}

/** TTL of the published record: short, so a new release is visible within minutes. */
export const GEN_TXT_TTL = 300;

const EXPECTED = 'expected "v=gen1; e=<epoch>; k=<base64 cookie>"';

/** The owner name of a zone's generation record. */
export function genRecordName(zone: string): string {
  return `_gen.${normalizeZone(zone)}`;
}

/** The TXT text of a release. */
export function formatGenTxt(epoch: number, cookie: Uint8Array): string {
  return `v=gen1; e=${epoch}; k=${encodeCookie(cookie)}`;
}

/** Parses a decimal epoch without sign, leading zeros or exponent; undefined when not one. */
export function parseEpoch(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return undefined;
  const epoch = Number(text);
  return epoch <= MAX_EPOCH ? epoch : undefined;
}

/** Parses the TXT text strictly; throws an Error whose message says what is wrong. */
export function parseGenTxt(text: string): GenRelease {
  const fields = text.split(';').map((field) => field.trim());
  if (fields.length !== 3) {
    throw new Error(`generation record has ${fields.length} field(s), ${EXPECTED}`);
  }
  const [version, epochField, cookieField] = fields as [string, string, string];
  if (version !== 'v=gen1') {
    throw new Error(`generation record must start with "v=gen1", got "${version}"`);
  }
  if (!epochField.startsWith('e=')) throw new Error(`second field must be "e=<epoch>", got "${epochField}"`);
  const epoch = parseEpoch(epochField.slice(2));
  if (epoch === undefined) {
    throw new Error(`epoch "${epochField.slice(2)}" is not a decimal number from 0 to ${MAX_EPOCH}`);
  }
  if (!cookieField.startsWith('k='))
    throw new Error(`third field must be "k=<base64>", got "${cookieField}"`);
  const cookie = decodeCookie(cookieField.slice(2));
  if (cookie === undefined) {
    throw new Error(`cookie "${cookieField.slice(2)}" is not the base64 of 32 bytes`);
  }
  return { epoch, cookie };
}

/** True when a TXT text claims to be a generation record (so other TXT records can be ignored). */
export function looksLikeGenTxt(text: string): boolean {
  return /^\s*v=gen1\s*(;|$)/.test(text);
}

/** One zone-file line publishing a release, e.g. `_gen.gen.test. 300 IN TXT "v=gen1; e=3; k=..."`. */
export function genZoneFileLine(zone: string, epoch: number, cookie: Uint8Array): string {
  return `${genRecordName(zone)}. ${GEN_TXT_TTL} IN TXT "${formatGenTxt(epoch, cookie)}"`;
}

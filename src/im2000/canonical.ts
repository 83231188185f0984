// Canonical JSON and Ed25519 signatures of IM2000 notices and receipts (docs/protocols/im2000.md).
import { type KeyObject, sign, verify } from 'node:crypto';

/** A JSON value as IM2000 allows it: no null, integers only. */
export type CanonicalValue = string | number | boolean | CanonicalValue[] | { [key: string]: CanonicalValue };

/**
 * The canonical bytes: members sorted by key, no whitespace, integers only. Both sides must
 * produce the same bytes from the same object, whatever order the members arrived in.
 */
export function canonicalJson(value: CanonicalValue): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new TypeError(`canonical JSON allows integers only, got ${value}`);
    return String(value);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as CanonicalValue)}`).join(',')}}`;
}

/** The object with a `signature` member: base64 Ed25519 over the canonical JSON of the rest. */
export function signObject<T extends { [key: string]: CanonicalValue }>(
  value: T,
  privateKey: KeyObject,
): T & { signature: string } {
  const signature = sign(null, Buffer.from(canonicalJson(value)), privateKey).toString('base64');
  return { ...value, signature };
}

/** True when one of the keys verifies `signature` over the canonical JSON of the other members. */
export function verifyObject(
  signed: { [key: string]: CanonicalValue } & { signature: string },
  publicKeys: readonly KeyObject[],
): boolean {
  const { signature, ...rest } = signed;
  const bytes = Buffer.from(canonicalJson(rest));
  const signatureBytes = Buffer.from(signature, 'base64');
  if (signatureBytes.length !== 64) return false;
  return publicKeys.some((key) => verify(null, bytes, key, signatureBytes));
}

// The bytes a DKIM signer or verifier must hash for one relaxed/relaxed signature, taken from a
// signed message: the OpenSSL baseline of run.ts charges SHA-256 for exactly these lengths.
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type ByteSink,
  type HeaderField,
  hashRelaxedBody,
  parseHeaderFields,
  relaxedHeader,
  splitMessage,
} from '../../src/dkim/canonical.js';

/** What goes into the two SHA-256 computations of a DKIM signature (RFC 6376 3.7). */
export interface HashedInput {
  /** The relaxed canonical body, input of bh=. */
  body: Buffer;
  /** The canonical signed header fields and the DKIM-Signature without its b= value, input of b=. */
  headerData: Buffer;
  /** The b= value, decoded. */
  signature: Buffer;
}

const B_TAG_VALUE = /((?:^|;)[ \t\r\n]*b[ \t\r\n]*=)([^;]*)/;

/** Collects the bytes a hash would see. */
class Collector implements ByteSink {
  readonly pieces: Buffer[] = [];
  update(data: Buffer): void {
    this.pieces.push(Buffer.from(data));
  }
}

function tagValue(raw: string, tag: string): string {
  const match = new RegExp(`(?:^|;)[ \\t\\r\\n]*${tag}[ \\t\\r\\n]*=([^;]*)`).exec(
    raw.slice(raw.indexOf(':') + 1),
  );
  if (!match?.[1]) throw new Error(`DKIM-Signature without ${tag}=`);
  return match[1].replace(/[ \t\r\n]+/g, '');
}

/** The hashed input of the topmost DKIM-Signature of `signed` (relaxed/relaxed, as outpost signs). */
export function hashedInput(signed: Buffer): HashedInput {
  const { headerEnd, bodyStart } = splitMessage(signed);
  const fields = parseHeaderFields(signed.toString('latin1', 0, headerEnd));
  const dkim = fields.find((field) => field.name === 'dkim-signature');
  if (!dkim) throw new Error('message has no DKIM-Signature');
  const byName = new Map<string, HeaderField[]>();
  for (const field of fields) byName.set(field.name, [...(byName.get(field.name) ?? []), field]);
  const used = new Map<string, number>();
  let text = '';
  // Each name's instances bottom-up; a name listed more often than present (oversigning) adds nothing.
  for (const name of tagValue(dkim.raw, 'h').toLowerCase().split(':')) {
    const instances = byName.get(name) ?? [];
    const taken = used.get(name) ?? 0;
    const field = instances[instances.length - 1 - taken];
    if (field === undefined) continue;
    used.set(name, taken + 1);
    text += `${relaxedHeader(field)}\r\n`;
  }
  text += relaxedHeader({ name: dkim.name, raw: dkim.raw.replace(B_TAG_VALUE, '$1') });
  const body = new Collector();
  hashRelaxedBody(signed.subarray(bodyStart), body);
  return {
    body: Buffer.concat(body.pieces),
    headerData: Buffer.from(text, 'latin1'),
    signature: Buffer.from(tagValue(dkim.raw, 'b'), 'base64'),
  };
}

/**
 * Proves `input` is what was really hashed: bh= must be the SHA-256 of the body and the signature
 * must verify over the header data, else the byte counts charged to OpenSSL would be guesses.
 */
export function checkHashedInput(signed: Buffer, input: HashedInput, privateKey: KeyObject): void {
  const { headerEnd } = splitMessage(signed);
  const dkim = parseHeaderFields(signed.toString('latin1', 0, headerEnd)).find(
    (field) => field.name === 'dkim-signature',
  );
  if (!dkim) throw new Error('message has no DKIM-Signature');
  const bodyHash = createHash('sha256').update(input.body).digest('base64');
  if (bodyHash !== tagValue(dkim.raw, 'bh')) throw new Error('canonical body does not match bh=');
  const publicKey = createPublicKey(privateKey);
  const rsa = publicKey.asymmetricKeyType === 'rsa';
  // RFC 8463: Ed25519 signs the SHA-256 of the header data with PureEdDSA.
  const data = rsa ? input.headerData : createHash('sha256').update(input.headerData).digest();
  if (!verify(rsa ? 'sha256' : null, data, publicKey, input.signature)) {
    throw new Error('signature does not verify over the reconstructed header data');
  }
}

// The domain signing key of a post office: Ed25519, private key as PKCS#8 PEM in the data dir,
// public key in DNS as `_im2000key.<domain> TXT "v=im1; k=ed25519; p=<base64>"`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where `outpost im2000 keygen` keeps the key, relative to the data dir. */
export const SIGNING_KEY_FILE = 'im2000/signing-key.pem';

export function generateSigningKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** The 32 raw public key bytes in standard base64, as the TXT record's `p=` carries them. */
export function publicKeyBase64(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** The TXT record text for a key. */
export function keyRecordText(key: KeyObject): string {
  return `v=im1; k=ed25519; p=${publicKeyBase64(key)}`;
}

/** The public key of one TXT record, or undefined when the record is not a valid `v=im1` key. */
export function parseKeyRecord(text: string): KeyObject | undefined {
  const tags = text.split(';').map((part) => part.trim());
  if (tags[0] !== 'v=im1') return undefined;
  const values = new Map<string, string>();
  for (const tag of tags.slice(1)) {
    const equals = tag.indexOf('=');
    if (equals > 0) values.set(tag.slice(0, equals).trim(), tag.slice(equals + 1).trim());
  }
  if ((values.get('k') ?? 'ed25519') !== 'ed25519') return undefined;
  const raw = Buffer.from(values.get('p') ?? '', 'base64');
  if (raw.length !== 32) return undefined;
  try {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    });
  } catch {
    return undefined;
  }
}

export async function loadSigningKey(file: string): Promise<KeyObject> {
  return createPrivateKey(await readFile(file));
}

/** Writes the key (mode 0600) by rename, so a crash never leaves half a key. */
export async function saveSigningKey(file: string, key: KeyObject): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await rename(tmp, file);
}

/** Zone-file lines a domain publishes to take part in IM2000 (for `outpost dns records`). */
export function im2000DnsRecords(options: {
  domain: string;
  postOfficeHost: string;
  port: number;
  key: KeyObject;
  ttl?: number;
}): string[] {
  const ttl = options.ttl ?? 3600;
  const host = options.postOfficeHost.replace(/\.?$/, '.');
  return [
    `_im2000._tcp.${options.domain}. ${ttl} IN SRV 10 0 ${options.port} ${host}`,
    `_im2000key.${options.domain}. ${ttl} IN TXT "${keyRecordText(options.key)}"`,
  ];
}

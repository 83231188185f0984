import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { promisify } from 'node:util';
import { getDomain } from 'tldts';
import { isNotFound } from '../core/errors.js';

/** The two DKIM signing algorithms outpost makes keys for (RFC 6376 and RFC 8463). */
export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/** A key ready to sign with: parsed once when loaded, shared by every message. */
export interface DkimSigningKey {
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
  /** The p= value of the key's DNS record. */
  publicKeyDnsValue: string;
}

/** A freshly generated key pair with its PEM text, before it is saved. */
export interface GeneratedDkimKey {
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
  privateKeyPem: string;
  publicKeyDnsValue: string;
}

/** A key as found on disk, with where it came from. */
export interface StoredDkimKey extends DkimSigningKey {
  domain: string;
  file: string;
}

const RSA_BITS = 2048;
const KEY_SUFFIX = '.key';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** LDH labels plus '_' (selectors such as "_sig" exist), dot-separated, lower case. */
const DNS_LABELS = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
/** What a domain may be written with before IDNA conversion. */
const DOMAIN_CHARACTERS = /^[\p{L}\p{M}\p{N}._-]+$/u;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A new key pair: RSA 2048 for rsa-sha256, Ed25519 for ed25519-sha256. */
export async function generateDkimKey(algorithm: DkimAlgorithm): Promise<GeneratedDkimKey> {
  const pair =
    algorithm === 'rsa-sha256'
      ? await generateKeyPairAsync('rsa', { modulusLength: RSA_BITS, publicExponent: 0x10001 })
      : await generateKeyPairAsync('ed25519');
  const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    algorithm,
    privateKey: pair.privateKey,
    privateKeyPem,
    publicKeyDnsValue: publicKeyDnsValue(pair.publicKey),
  };
}

/** The algorithm a key signs with, read from the key itself (the PEM names its type). */
function algorithmOfKey(key: KeyObject): DkimAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'rsa-sha256';
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  throw new Error(`unsupported DKIM key type "${key.asymmetricKeyType ?? key.type}" (rsa or ed25519)`);
}

/**
 * The p= value for a public (or private) key: base64 SubjectPublicKeyInfo for RSA (what every
 * verifier accepts), the raw 32-byte key for Ed25519 (RFC 8463 section 4.2, not the SPKI form).
 */
export function publicKeyDnsValue(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ format: 'der', type: 'spki' });
  if (algorithmOfKey(publicKey) === 'rsa-sha256') return der.toString('base64');
  if (der.length !== ED25519_SPKI_PREFIX.length + 32 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
    throw new Error('unexpected Ed25519 public key encoding');
  }
  return der.subarray(ED25519_SPKI_PREFIX.length).toString('base64');
}

/** The TXT record text to publish at `<selector>._domainkey.<domain>`. */
export function dkimTxtRecord(key: Pick<DkimSigningKey, 'algorithm' | 'publicKeyDnsValue'>): string {
  const type = key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519';
  return `v=DKIM1; k=${type}; p=${key.publicKeyDnsValue}`;
}

/** The DNS name that holds a selector's key record. */
export function dkimRecordName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** A signing domain in the form used on disk and in d=: A-label, lower case; throws when it is no domain. */
export function normalizeDkimDomain(domain: string): string {
  const trimmed = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  // domainToASCII parses like a URL host ("a/b" gives "a"), so only letters, digits, '.', '-' and
  // '_' may go in.
  const ascii = DOMAIN_CHARACTERS.test(trimmed) ? domainToASCII(trimmed) : '';
  if (ascii === '' || !DNS_LABELS.test(ascii) || ascii.length > 253) {
    throw new Error(`"${domain}" is not a domain name`);
  }
  return ascii;
}

/** A selector in normal form; throws unless it is dot-separated DNS labels (RFC 6376 section 3.1). */
export function normalizeSelector(selector: string): string {
  const lower = selector.toLowerCase();
  if (!DNS_LABELS.test(lower)) {
    throw new Error(`"${selector}" is not a valid selector (letters, digits, "-", "_", dot-separated)`);
  }
  return lower;
}

const SHORT_NAMES: Record<DkimAlgorithm, string> = { 'rsa-sha256': 'rsa', 'ed25519-sha256': 'ed25519' };

/**
 * The selector for each algorithm: the one given as it is for one algorithm, suffixed with the
 * algorithm for both; without one `outpost-YYYYMM-<algorithm>`, so each month's rotation gets new
 * names (a second key in the same month needs a selector of its own: keys are never overwritten).
 */
export function selectorsFor(
  algorithms: DkimAlgorithm[],
  selector: string | undefined,
  now: number,
): string[] {
  if (selector !== undefined && algorithms.length === 1) return [selector];
  const month = new Date(now).toISOString().slice(0, 7).replace('-', '');
  const base = selector ?? `outpost-${month}`;
  return algorithms.map((algorithm) => `${base}-${SHORT_NAMES[algorithm]}`);
}

/** Where a domain's keys live: `<dataDir>/dkim/<domain>/`. */
function dkimKeyDir(dataDir: string, domain: string): string {
  return path.join(dataDir, 'dkim', normalizeDkimDomain(domain));
}

/** The file of one key: `<dataDir>/dkim/<domain>/<selector>.key`. */
export function dkimKeyFile(dataDir: string, domain: string, selector: string): string {
  return path.join(dkimKeyDir(dataDir, domain), `${normalizeSelector(selector)}${KEY_SUFFIX}`);
}

/**
 * Writes a key to `<dataDir>/dkim/<domain>/<selector>.key` (PKCS#8 PEM, mode 0600, folder 0700).
 * Never overwrites: a new key takes a new selector so the old record can stay published meanwhile.
 * Returns the file written.
 */
export async function saveDkimKey(
  dataDir: string,
  domain: string,
  selector: string,
  key: Pick<GeneratedDkimKey, 'privateKeyPem'>,
): Promise<string> {
  const file = dkimKeyFile(dataDir, domain, selector);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`${file} already exists: choose another selector`);
    }
    throw error;
  }
  // writeFile's mode passes through the umask, which could take the owner's read bit; set it exactly.
  await chmod(file, 0o600);
  return file;
}

/** Parses one key file; the error names the file. */
async function readDkimKeyFile(file: string): Promise<DkimSigningKey> {
  const selector = path.basename(file, KEY_SUFFIX);
  try {
    const privateKey = createPrivateKey({ key: await readFile(file), format: 'pem' });
    const algorithm = algorithmOfKey(privateKey);
    return {
      selector: normalizeSelector(selector),
      algorithm,
      privateKey,
      publicKeyDnsValue: publicKeyDnsValue(privateKey),
    };
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** Every key under `<dataDir>/dkim/`, each parsed once, in domain then selector order. */
export async function listDkimKeys(dataDir: string): Promise<StoredDkimKey[]> {
  const root = path.join(dataDir, 'dkim');
  const keys: StoredDkimKey[] = [];
  for (const domain of await listDir(root)) {
    if (!DNS_LABELS.test(domain)) continue;
    for (const name of await listDir(path.join(root, domain))) {
      if (!name.endsWith(KEY_SUFFIX)) continue;
      const file = path.join(root, domain, name);
      keys.push({ domain, file, ...(await readDkimKeyFile(file)) });
    }
  }
  return keys;
}

/**
 * The signing keys per domain (A-label, lower case), parsed once here so that signing never parses
 * PEM. A file that does not parse is an error rather than a message silently left unsigned.
 */
export async function loadDkimKeys(dataDir: string): Promise<Map<string, DkimSigningKey[]>> {
  const byDomain = new Map<string, DkimSigningKey[]>();
  for (const stored of await listDkimKeys(dataDir)) {
    const key: DkimSigningKey = {
      selector: stored.selector,
      algorithm: stored.algorithm,
      privateKey: stored.privateKey,
      publicKeyDnsValue: stored.publicKeyDnsValue,
    };
    const list = byDomain.get(stored.domain);
    if (list) list.push(key);
    else byDomain.set(stored.domain, [key]);
  }
  return byDomain;
}

/** The host name itself, then each parent down to the registrable domain (never a public suffix). */
export function hostCandidates(hostname: string): string[] {
  const registrable = getDomain(hostname) ?? hostname;
  const names: string[] = [];
  let name = hostname.toLowerCase();
  for (;;) {
    names.push(name);
    if (name === registrable || !name.includes('.')) return names;
    name = name.slice(name.indexOf('.') + 1);
  }
}

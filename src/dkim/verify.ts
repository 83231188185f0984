import { createHash, createPublicKey, type Hash, hash, type KeyObject, verify } from 'node:crypto';
import type { Resolver } from '../dns/types.js';
import {
  type ByteSink,
  type HeaderField,
  hashRelaxedBody,
  parseHeaderFields,
  relaxedHeader,
  splitMessage,
} from './canonical.js';

/**
 * The verdict on one DKIM-Signature, in the words mailauth's strict mode uses (the dkim check's
 * reasons and the tests were written against them): `policy` with `policyRule` for a key too
 * short or rsa-sha1 (RFC 8301), `underSized` for canonical body bytes beyond an l= limit.
 */
export interface SignatureVerdict {
  domain: string;
  selector: string;
  algorithm: string;
  canonicalization: string;
  /** The b= value without folding whitespace. */
  signature: string;
  result: 'pass' | 'fail' | 'neutral' | 'temperror' | 'policy';
  comment?: string;
  policyRule?: 'weak-key' | 'weak-algorithm';
  underSized?: number;
}

/** Every signature's verdict and the message facts DMARC reads (the From fields). */
export interface MessageVerdict {
  signatures: SignatureVerdict[];
  /** The header fields, parsed once for everyone who needs them. */
  fields: HeaderField[];
}

export interface VerifyOptions {
  /** RSA keys shorter than this many bits get `policy` / `weak-key`. */
  minKeyBits: number;
  /** Judges x= (milliseconds since the epoch). */
  now: number;
}

/** Returned when the message holds something only the full (mailauth) verifier handles exactly. */
export const UNSUPPORTED = Symbol('unsupported');

type Canon = 'simple' | 'relaxed';
type HashName = 'sha256' | 'sha1';

interface ParsedSignature {
  field: HeaderField;
  domain: string;
  selector: string;
  algorithm: 'rsa-sha256' | 'rsa-sha1' | 'ed25519-sha256';
  keyType: 'rsa' | 'ed25519';
  hash: HashName;
  headerCanon: Canon;
  bodyCanon: Canon;
  canonicalization: string;
  signedNames: string[];
  bodyLength: number | undefined;
  expires: number | undefined;
  signature: string;
  bodyHash: string;
  /** The domain of i=, when it has one. */
  identityDomain: string | undefined;
}

/** A key record read once: the key, or the error code mailauth would give it. */
type ParsedKey =
  | {
      key: KeyObject;
      keyType: 'rsa' | 'ed25519';
      bits: number;
      hashes: string[] | undefined;
      forEmail: boolean;
      /** t=s: the i= domain must be d= itself. */
      sameDomainOnly: boolean;
    }
  | { error: 'EINVALIDVAL' | 'EINVALIDVER' | 'EINVALIDTYPE' }
  | typeof UNSUPPORTED;

const DOMAIN_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DOMAIN_NAME = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})+$`);
const SELECTOR = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*$`);
const TIMESTAMP = /^[0-9]{1,12}$/;
const BODY_LENGTH = /^[0-9]{1,15}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** i= as signers write it: an optional dot-atom local part, @, the domain (no quoted-printable escapes). */
const IDENTITY = /^(?:[A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+)*)?@([^@]+)$/;
const TAG_NAME = /^[a-z][a-z0-9_]*$/;
const FWS = /[ \t\r\n]+/g;
const SIGNATURE_TAGS = new Set(['v', 'a', 'b', 'bh', 'c', 'd', 'h', 'i', 'l', 'q', 's', 't', 'x', 'z']);
const REQUIRED_TAGS = ['v', 'a', 'b', 'bh', 'd', 'h', 's'];
const KEY_TAGS = new Set(['v', 'h', 'k', 'n', 'p', 's', 't']);
const ALGORITHMS: Record<string, { keyType: 'rsa' | 'ed25519'; hash: HashName }> = {
  'rsa-sha256': { keyType: 'rsa', hash: 'sha256' },
  'rsa-sha1': { keyType: 'rsa', hash: 'sha1' },
  'ed25519-sha256': { keyType: 'ed25519', hash: 'sha256' },
};
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ARC_FIELDS = new Set(['arc-seal', 'arc-message-signature', 'arc-authentication-results']);
const CRLF = Buffer.from('\r\n');
const LF = 0x0a;
const CR = 0x0d;
/** The b= tag's value in a DKIM-Signature, emptied for the header hash (RFC 6376 3.7). */
const B_TAG_VALUE = /((?:^|;)[ \t\r\n]*b[ \t\r\n]*=)[^;]*/;

const KEY_CACHE_LIMIT = 1024;
// Parsed key records by their text: a record that has not changed is never parsed again, and a
// changed one is a new entry, so DNS (asked for every message) stays the authority on the key.
const parsedKeys = new Map<string, ParsedKey>();

/**
 * A tag list (RFC 6376 3.2) in the strict form: lower-case names, no duplicates, values without
 * folding whitespace (removed). Undefined when the syntax is not clean.
 */
function parseTagList(text: string): Map<string, string> | undefined {
  const tags = new Map<string, string>();
  // One scan over the text: each tag runs to the next ';' (or the end), its name to the first '='.
  for (let start = 0; ; ) {
    const semicolon = text.indexOf(';', start);
    const last = semicolon < 0;
    const end = last ? text.length : semicolon;
    const equals = text.indexOf('=', start);
    if (equals < 0 || equals >= end) {
      // One empty tag after a final semicolon is allowed.
      return last && start > 0 && text.slice(start).trim() === '' ? tags : undefined;
    }
    const name = text.slice(start, equals).trim();
    const value = tagValue(text, equals + 1, end);
    if (value === undefined || !TAG_NAME.test(name) || tags.has(name)) return undefined;
    tags.set(name, value);
    if (last) return tags;
    start = end + 1;
  }
}

/**
 * The value between `start` and `end` without folding whitespace, or undefined when it holds
 * anything else outside the printable characters but ';'. One scan, a copy only for folded values.
 */
function tagValue(text: string, start: number, end: number): string | undefined {
  let folded = false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a) folded = true;
    else if (code < 0x21 || code > 0x7e || code === 0x3b) return undefined;
  }
  const value = text.slice(start, end);
  return folded ? value.replace(FWS, '') : value;
}

function canonOf(value: string | undefined): Canon | undefined {
  if (value === undefined || value === 'simple') return 'simple';
  if (value === 'relaxed') return 'relaxed';
  return undefined;
}

/** A DKIM-Signature the fast path verifies exactly as mailauth's strict mode, or undefined. */
function parseSignature(field: HeaderField): ParsedSignature | undefined {
  const tags = parseTagList(field.raw.slice(field.raw.indexOf(':') + 1));
  if (tags === undefined) return undefined;
  for (const name of tags.keys()) if (!SIGNATURE_TAGS.has(name)) return undefined;
  if (REQUIRED_TAGS.some((name) => !tags.has(name)) || tags.get('v') !== '1') return undefined;
  const algorithm = tags.get('a') as string;
  const kind = ALGORITHMS[algorithm];
  if (kind === undefined) return undefined;
  const [header, body, extra] = (tags.get('c') ?? 'simple').split('/');
  const headerCanon = canonOf(header);
  const bodyCanon = canonOf(body);
  if (headerCanon === undefined || bodyCanon === undefined || extra !== undefined) return undefined;
  const domain = tags.get('d') as string;
  const selector = tags.get('s') as string;
  if (!DOMAIN_NAME.test(domain) || !SELECTOR.test(selector)) return undefined;
  const identityDomain = identityDomainOf(tags.get('i'), domain);
  if (identityDomain === null) return undefined;
  const q = tags.get('q');
  if (q !== undefined && q !== 'dns/txt') return undefined;
  for (const name of ['t', 'x']) {
    const value = tags.get(name);
    if (value !== undefined && !TIMESTAMP.test(value)) return undefined;
  }
  const l = tags.get('l');
  if (l !== undefined && !BODY_LENGTH.test(l)) return undefined;
  const signature = tags.get('b') as string;
  const bodyHash = tags.get('bh') as string;
  if (!BASE64.test(signature) || !BASE64.test(bodyHash)) return undefined;
  const signedNames = (tags.get('h') as string)
    .split(':')
    .map((name) => name.toLowerCase())
    .filter((name) => name !== '');
  // An empty h=, or one naming signature fields, is left to the full verifier's rules.
  if (signedNames.length === 0 || signedNames.includes('dkim-signature')) return undefined;
  const t = tags.get('t');
  const x = tags.get('x');
  if (t !== undefined && x !== undefined && Number(x) <= Number(t)) return undefined;
  return {
    field,
    domain,
    selector,
    algorithm: algorithm as ParsedSignature['algorithm'],
    keyType: kind.keyType,
    hash: kind.hash,
    headerCanon,
    bodyCanon,
    canonicalization: tags.get('c') ?? 'simple/simple',
    signedNames,
    bodyLength: l === undefined ? undefined : Number(l),
    expires: x === undefined ? undefined : Number(x) * 1000,
    signature,
    bodyHash,
    identityDomain,
  };
}

/**
 * The domain of an i= value that is d= or a subdomain of it (RFC 6376 3.5); undefined without i=,
 * null for anything else (left to the full verifier).
 */
function identityDomainOf(identity: string | undefined, domain: string): string | undefined | null {
  if (identity === undefined) return undefined;
  const identityDomain = IDENTITY.exec(identity)?.[1]?.toLowerCase();
  if (identityDomain === undefined || !DOMAIN_NAME.test(identityDomain)) return null;
  const signing = domain.toLowerCase();
  return identityDomain === signing || identityDomain.endsWith(`.${signing}`) ? identityDomain : null;
}

/** Counts canonical body bytes and passes on the first `limit` of them (l=) to the hash. */
class LimitedSink implements ByteSink {
  total = 0;
  constructor(
    private readonly hash: Hash,
    readonly limit: number,
  ) {}
  update(data: Buffer): void {
    const room = this.limit - this.total;
    if (room > 0) this.hash.update(room >= data.length ? data : data.subarray(0, room));
    this.total += data.length;
  }
}

/** Simple body canonicalization (RFC 6376 3.4.3): empty lines at the end dropped, an empty body is CRLF. */
function hashSimpleBody(body: Buffer, sink: ByteSink): void {
  let end = body.length;
  while (end >= 2 && body[end - 1] === LF && body[end - 2] === CR) end -= 2;
  if (end > 0) sink.update(body.subarray(0, end));
  sink.update(CRLF);
}

interface BodyDigest {
  hash: string;
  underSized: number;
}

function digestBody(body: Buffer, canon: Canon, hashName: HashName, limit: number | undefined): BodyDigest {
  const hash = createHash(hashName);
  const sink = limit === undefined ? hash : new LimitedSink(hash, limit);
  if (canon === 'relaxed') hashRelaxedBody(body, sink);
  else hashSimpleBody(body, sink);
  const underSized = sink instanceof LimitedSink ? Math.max(0, sink.total - sink.limit) : 0;
  return { hash: hash.digest('base64'), underSized };
}

/** The header data a signature covers (RFC 6376 5.4.2): each name's fields bottom-up, then itself without b=. */
function signedHeaderData(signature: ParsedSignature, byName: Map<string, HeaderField[]>): Buffer {
  const used = new Map<string, number>();
  const canonical = signature.headerCanon === 'relaxed' ? relaxedHeader : (field: HeaderField) => field.raw;
  let text = '';
  for (const name of signature.signedNames) {
    const instances = byName.get(name);
    const taken = used.get(name) ?? 0;
    if (instances === undefined || taken >= instances.length) continue;
    used.set(name, taken + 1);
    text += `${canonical(instances[instances.length - 1 - taken] as HeaderField)}\r\n`;
  }
  const self = { name: signature.field.name, raw: signature.field.raw.replace(B_TAG_VALUE, '$1') };
  text += canonical(self);
  return Buffer.from(text, 'latin1');
}

/** A SubjectPublicKeyInfo, as published in practice, or the bare RSAPublicKey of RFC 6376 3.6.1. */
function publicKeyFromDer(der: Buffer): KeyObject | undefined {
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return createPublicKey({ key: der, format: 'der', type });
    } catch {
      // Not this structure; try the next.
    }
  }
  return undefined;
}

function parseKeyRecord(record: string): ParsedKey {
  if (record === '') return { error: 'EINVALIDVAL' };
  const tags = parseTagList(record);
  if (tags === undefined) return UNSUPPORTED;
  for (const name of tags.keys()) if (!KEY_TAGS.has(name)) return UNSUPPORTED;
  const p = tags.get('p');
  if (p === undefined || p === '') return { error: 'EINVALIDVAL' };
  if (!BASE64.test(p)) return UNSUPPORTED;
  const version = tags.get('v');
  if (version !== undefined) {
    if (version.toLowerCase() !== 'dkim1') return { error: 'EINVALIDVER' };
    if (version !== 'DKIM1' || tags.keys().next().value !== 'v') return { error: 'EINVALIDVER' };
  }
  const services = tags.get('s')?.toLowerCase().split(':');
  const hashes = tags.get('h')?.toLowerCase().split(':');
  const declared = tags.get('k')?.toLowerCase();
  const raw = Buffer.from(p, 'base64');
  let key: KeyObject;
  if (raw.length === 32 && declared === 'ed25519') {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } else {
    const parsed = publicKeyFromDer(raw);
    if (parsed === undefined) return { error: 'EINVALIDTYPE' };
    key = parsed;
  }
  const keyType = key.asymmetricKeyType;
  if (keyType !== 'rsa' && keyType !== 'ed25519') return { error: 'EINVALIDTYPE' };
  if (declared !== undefined ? declared !== keyType : keyType !== 'rsa') return { error: 'EINVALIDTYPE' };
  if (keyType === 'ed25519' && raw.length !== 32) return { error: 'EINVALIDVAL' };
  return {
    key,
    keyType,
    bits: key.asymmetricKeyDetails?.modulusLength ?? 0,
    hashes,
    forEmail: services === undefined || services.includes('email') || services.includes('*'),
    sameDomainOnly: tags.get('t')?.toLowerCase().split(':').includes('s') ?? false,
  };
}

/** The parsed key of a record as DNS gave it; whitespace is removed only when it is first parsed. */
function cachedKey(record: string): ParsedKey {
  const known = parsedKeys.get(record);
  if (known !== undefined) return known;
  const parsed = parseKeyRecord(record.replace(/\s+/g, ''));
  if (parsedKeys.size >= KEY_CACHE_LIMIT) {
    const oldest = parsedKeys.keys().next().value;
    if (oldest !== undefined) parsedKeys.delete(oldest);
  }
  parsedKeys.set(record, parsed);
  return parsed;
}

const KEY_ERROR_COMMENTS: Record<string, string> = {
  ENOTFOUND: 'no key',
  ENODATA: 'no key',
  EINVALIDVER: 'unknown key version',
  EINVALIDTYPE: 'unknown key type',
  EINVALIDVAL: 'invalid public key',
  EINVALIDHASH: 'inappropriate hash algorithm',
  EINVALIDSERVICE: 'key not for email',
};

type KeyLookup = ParsedKey | { dnsError: string };

/** The key record at `<s>._domainkey.<d>` through the message's DNS view. */
async function lookupKey(dns: Resolver, name: string): Promise<KeyLookup> {
  try {
    const answers = (await dns.resolve(name, 'TXT')) as string[][];
    return cachedKey((answers[0] ?? []).join(''));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { dnsError: typeof code === 'string' ? code : String((error as Error).message) };
  }
}

type Verdict = Pick<SignatureVerdict, 'result' | 'comment' | 'policyRule'>;

function judgeWithKey(
  signature: ParsedSignature,
  lookup: KeyLookup,
  data: Buffer,
  options: VerifyOptions,
): Verdict | typeof UNSUPPORTED {
  if (lookup === UNSUPPORTED) return UNSUPPORTED;
  if ('dnsError' in lookup) {
    const comment = KEY_ERROR_COMMENTS[lookup.dnsError];
    return comment !== undefined
      ? { result: 'neutral', comment }
      : { result: 'temperror', comment: `DNS failure: ${lookup.dnsError}` };
  }
  if ('error' in lookup) return { result: 'neutral', comment: KEY_ERROR_COMMENTS[lookup.error] };
  if (!lookup.forEmail) return { result: 'neutral', comment: KEY_ERROR_COMMENTS.EINVALIDSERVICE };
  if (lookup.hashes !== undefined && !lookup.hashes.includes(signature.hash)) {
    return { result: 'neutral', comment: KEY_ERROR_COMMENTS.EINVALIDHASH };
  }
  if (lookup.keyType === 'rsa' && lookup.bits < options.minKeyBits) {
    return { result: 'policy', policyRule: 'weak-key' };
  }
  if (lookup.keyType !== signature.keyType)
    return { result: 'neutral', comment: 'inappropriate key algorithm' };
  if (
    lookup.sameDomainOnly &&
    signature.identityDomain !== undefined &&
    signature.identityDomain !== signature.domain.toLowerCase()
  ) {
    return { result: 'neutral', comment: 'domain mismatch' };
  }
  const b = Buffer.from(signature.signature, 'base64');
  let good: boolean;
  try {
    good =
      signature.keyType === 'rsa'
        ? verify(signature.hash, data, lookup.key, b)
        : verify(null, hash('sha256', data, 'buffer'), lookup.key, b);
  } catch (error) {
    return { result: 'neutral', comment: (error as Error).message };
  }
  if (!good) return { result: 'fail', comment: 'bad signature' };
  if (signature.expires !== undefined && signature.expires < options.now) {
    return { result: 'neutral', comment: 'expired' };
  }
  return { result: 'pass' };
}

/**
 * Verifies every DKIM-Signature of `message` (RFC 6376; RFC 8463 Ed25519; rsa-sha1 refused per
 * RFC 8301) with keys from `dns`. Gives UNSUPPORTED for messages with ARC fields or a signature
 * or key record outside the clean, common syntax: their verdicts are mailauth's to give.
 */
export async function verifyDkimSignatures(
  message: Buffer,
  dns: Resolver,
  options: VerifyOptions,
): Promise<MessageVerdict | typeof UNSUPPORTED> {
  const { headerEnd, bodyStart } = splitMessage(message);
  const fields = parseHeaderFields(message.toString('latin1', 0, headerEnd));
  const byName = new Map<string, HeaderField[]>();
  const signatures: ParsedSignature[] = [];
  for (const field of fields) {
    if (ARC_FIELDS.has(field.name)) return UNSUPPORTED;
    const list = byName.get(field.name);
    if (list === undefined) byName.set(field.name, [field]);
    else list.push(field);
    if (field.name === 'dkim-signature') {
      const parsed = parseSignature(field);
      if (parsed === undefined) return UNSUPPORTED;
      signatures.push(parsed);
    }
  }
  const body = message.subarray(bodyStart);
  const digests = new Map<string, BodyDigest>();
  const bodyDigest = (signature: ParsedSignature): BodyDigest => {
    const key = `${signature.bodyCanon}:${signature.hash}:${signature.bodyLength ?? ''}`;
    let digest = digests.get(key);
    if (digest === undefined) {
      digest = digestBody(body, signature.bodyCanon, signature.hash, signature.bodyLength);
      digests.set(key, digest);
    }
    return digest;
  };
  const lookups = new Map<string, Promise<KeyLookup>>();
  const verdicts = await Promise.all(
    signatures.map(async (signature): Promise<SignatureVerdict | typeof UNSUPPORTED> => {
      const verdict = (found: Verdict, underSized = 0): SignatureVerdict => {
        const result: SignatureVerdict = {
          domain: signature.domain,
          selector: signature.selector,
          algorithm: signature.algorithm,
          canonicalization: signature.canonicalization,
          signature: signature.signature,
          result: found.result,
        };
        if (found.comment !== undefined) result.comment = found.comment;
        if (found.policyRule !== undefined) result.policyRule = found.policyRule;
        if (underSized > 0) result.underSized = underSized;
        return result;
      };
      if (!signature.signedNames.includes('from')) {
        return verdict({ result: 'neutral', comment: 'From field not signed' });
      }
      const digest = bodyDigest(signature);
      if (digest.hash !== signature.bodyHash) {
        return verdict({ result: 'fail', comment: 'body hash did not verify' }, digest.underSized);
      }
      if (signature.hash === 'sha1') {
        return verdict(
          { result: 'policy', comment: 'weak algorithm', policyRule: 'weak-algorithm' },
          digest.underSized,
        );
      }
      const name = `${signature.selector}._domainkey.${signature.domain}`;
      let lookup = lookups.get(name);
      if (lookup === undefined) {
        lookup = lookupKey(dns, name);
        lookups.set(name, lookup);
      }
      const judged = judgeWithKey(signature, await lookup, signedHeaderData(signature, byName), options);
      return judged === UNSUPPORTED ? UNSUPPORTED : verdict(judged, digest.underSized);
    }),
  );
  if (verdicts.includes(UNSUPPORTED)) return UNSUPPORTED;
  return { signatures: verdicts as SignatureVerdict[], fields };
}

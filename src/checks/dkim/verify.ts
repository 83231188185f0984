import { createRequire } from 'node:module';
import type { DKIMResult, DKIMVerifyResult } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { HeaderField } from '../../dkim/canonical.js';
import { type SignatureVerdict, UNSUPPORTED, verifyDkimSignatures } from '../../dkim/verify.js';
import type { Resolver } from '../../dns/types.js';
import { mailauthResolver } from './mailauth-resolver.js';

/** How signatures are verified. */
export interface DkimVerifyOptions {
  /** RSA keys shorter than this are not accepted (RFC 8301 asks for 1024 at least). */
  minKeyBits: number;
  /** The time expiry (x=) is judged against, in milliseconds. */
  now: number;
}

interface ParsedAddress {
  address?: string;
  group?: ParsedAddress[];
}

// The address parser mailauth reads From with, so DMARC sees the same author addresses either way.
const addressparser = createRequire(import.meta.url)('nodemailer/lib/addressparser') as (
  text: string,
) => ParsedAddress[];

// The dkim, arc and dmarc checks of one message all need the verification of that message
// (signatures, ARC chain, From domains). It is done once per message, DNS view and key-size rule:
// the entries live as long as the message buffer, so nothing outlives the message.
const verifications = new WeakMap<Buffer, WeakMap<Resolver, Map<number, Promise<DKIMVerifyResult>>>>();

function fieldValue(field: HeaderField): string {
  const text = Buffer.from(field.raw, 'latin1').toString('utf8');
  return text.slice(text.indexOf(':') + 1).trim();
}

/** The addr-specs of the From fields, group members included (RFC 6854), as mailauth lists them. */
function authorAddresses(froms: readonly HeaderField[]): string[] {
  const addresses: string[] = [];
  for (const field of froms) {
    for (const entry of addressparser(fieldValue(field))) {
      for (const mailbox of entry.group ?? [entry]) {
        if (mailbox.address) addresses.push(mailbox.address);
      }
    }
  }
  return addresses;
}

function envelopeFromOf(fields: readonly HeaderField[]): string | false {
  const returnPath = fields.filter((field) => field.name === 'return-path').pop();
  if (returnPath === undefined) return false;
  return addressparser(fieldValue(returnPath))[0]?.address || false;
}

/** One verdict in mailauth's result shape, which the dkim, dmarc and server-signature checks read. */
function asMailauthResult(verdict: SignatureVerdict): DKIMResult {
  const status: DKIMResult['status'] = { result: verdict.result };
  if (verdict.comment !== undefined) status.comment = verdict.comment;
  if (verdict.policyRule !== undefined) status.policy = { 'dkim-rules': verdict.policyRule };
  if (verdict.underSized !== undefined) status.underSized = verdict.underSized;
  return {
    signingDomain: verdict.domain,
    selector: verdict.selector,
    signature: verdict.signature,
    algo: verdict.algorithm,
    format: verdict.canonicalization,
    status,
    info: `dkim=${verdict.result} header.d=${verdict.domain} header.s=${verdict.selector}`,
  };
}

const NOT_SIGNED: DKIMResult = {
  status: { result: 'none', comment: 'message not signed' },
  info: 'dkim=none (message not signed)',
};

/**
 * Our verifier (src/dkim/verify.ts) for the messages it covers; mailauth in its strict mode for
 * the rest (ARC fields, unusual signature or key syntax), which also yields the ARC chain.
 */
async function verifyMessage(
  message: Buffer,
  dns: Resolver,
  options: DkimVerifyOptions,
): Promise<DKIMVerifyResult> {
  const verdict = await verifyDkimSignatures(message, dns, options);
  if (verdict === UNSUPPORTED) {
    return dkimVerify(message, {
      resolver: mailauthResolver(dns),
      minBitLength: options.minKeyBits,
      curTime: options.now,
      strict: true,
    });
  }
  const froms = verdict.fields.filter((field) => field.name === 'from');
  return {
    headerFrom: authorAddresses(froms),
    fromFields: froms.length,
    envelopeFrom: envelopeFromOf(verdict.fields),
    results: verdict.signatures.length === 0 ? [{ ...NOT_SIGNED }] : verdict.signatures.map(asMailauthResult),
  };
}

/**
 * Every DKIM-Signature (RSA-SHA256, Ed25519-SHA256; RFC 6376, 8301, 8463) and, for messages with
 * ARC fields, the newest ARC-Message-Signature of a message, verified with keys from `dns`.
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
  const started = verifyMessage(message, dns, options);
  byKeySize.set(options.minKeyBits, started);
  return started;
}

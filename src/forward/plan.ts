import { arcSeal, chainValidationOf } from '../arc/seal.js';
import { domainOf } from '../core/address.js';
import { type DkimSigningKey, hostCandidates } from '../dkim/keys.js';
import { formatAuthResults } from '../pipeline/auth-results.js';
import type { CheckResult } from '../pipeline/check.js';
import type { NewRecipient } from '../queue/store/types.js';
import { isSrsAddress, type SrsSecrets, srsForward, srsReverse } from '../srs/srs.js';

/** The key outpost seals forwarded mail with: its DKIM key for the host name (or a parent of it). */
export interface ArcSealingKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
}

/** What planForwards needs to know about one message for one alias. */
export interface ForwardInput {
  /** The local address the message was sent to (the alias). */
  alias: string;
  /** The remote addresses it forwards to. */
  targets: readonly string[];
  /** The envelope sender as received ('' for the null sender). */
  sender: string;
  /** The message as stored for local delivery: our Received and Authentication-Results on top. */
  message: Buffer;
  /** Our authserv-id (the host name). */
  authservId: string;
  /** Every check result of the transaction (the arc check's gives the seal's cv=). */
  results: ReadonlyMap<string, CheckResult>;
  /** Without a key the copy goes out unsealed. */
  sealingKey: ArcSealingKey | undefined;
  secrets: SrsSecrets;
  /** Milliseconds, for the SRS timestamp and the seal's t=. */
  now: number;
}

/** The extra queue message that carries a forward: its own sender, body and recipients. */
export interface ForwardCopy {
  sender: string;
  body: Buffer;
  recipients: NewRecipient[];
  /** Why the copy carries no ARC set of ours; undefined when it was sealed. */
  unsealed?: string;
}

/**
 * The queue message that forwards a message received for `alias` to its remote targets: the
 * envelope sender rewritten with SRS at the alias's domain (SRS0 for a plain sender, SRS1 when it
 * already is an SRS address of another forwarder, the null sender kept), and the body ARC-sealed
 * with what our checks found, so the next hop can see that SPF and DKIM held when we received it.
 * A message that cannot be sealed (no key, a chain already broken, an ARC chain we did not
 * validate) is still forwarded, unsealed, with the reason in `unsealed`.
 */
export async function planForwards(input: ForwardInput): Promise<ForwardCopy> {
  const sender = srsForward(input.sender, domainOf(input.alias), input.secrets, input.now);
  const recipients = input.targets.map(
    (address): NewRecipient => ({ address, target: 'smtp', orcpt: `rfc822;${input.alias}` }),
  );
  const sealed = await sealForForward(input);
  return 'body' in sealed
    ? { sender, body: sealed.body, recipients }
    : { sender, body: input.message, recipients, unsealed: sealed.unsealed };
}

async function sealForForward(input: ForwardInput): Promise<{ body: Buffer } | { unsealed: string }> {
  if (input.sealingKey === undefined) return { unsealed: 'no DKIM key for the host name' };
  const chainValidation = chainValidationOf(input.results.get('arc'));
  try {
    const set = await arcSeal(input.message, {
      domain: input.sealingKey.domain,
      selector: input.sealingKey.selector,
      privateKey: input.sealingKey.privateKeyPem,
      authservId: input.authservId,
      authResults: authResultsResinfo(input.authservId, input.results),
      ...(chainValidation === undefined ? {} : { chainValidation }),
      signTime: new Date(input.now),
    });
    return { body: Buffer.concat([Buffer.from(set.headers), input.message]) };
  } catch (error) {
    return { unsealed: error instanceof Error ? error.message : String(error) };
  }
}

/** Our Authentication-Results without its field name and authserv-id, unfolded: what ARC-Authentication-Results carries. */
export function authResultsResinfo(authservId: string, results: ReadonlyMap<string, CheckResult>): string {
  const field = formatAuthResults(authservId, results);
  return field
    .slice(field.indexOf(';') + 1)
    .replace(/\r\n[\t ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The address a bounce sent to an SRS address goes on to: the original sender (SRS0) or the first
 * forwarder's SRS0 address (SRS1); undefined when the address is not SRS, its hash does not verify
 * with any of our secrets, or its timestamp is too old. Only for addresses at our own domains.
 */
export function srsRecipient(
  address: string,
  secrets: SrsSecrets,
  now: number = Date.now(),
): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0 || !isSrsAddress(address.slice(0, at))) return undefined;
  const reversed = srsReverse(address, secrets, now);
  return reversed.ok ? reversed.address : undefined;
}

/**
 * The key to seal with: the host name's DKIM key (or its nearest parent's), RSA before Ed25519
 * because dkimpy validates RSA seals only (docs/reference/arc.md).
 */
export function arcSealingKey(
  keys: ReadonlyMap<string, readonly DkimSigningKey[]>,
  hostname: string,
): ArcSealingKey | undefined {
  for (const domain of hostCandidates(hostname)) {
    const candidates = keys.get(domain) ?? [];
    const key = candidates.find((k) => k.algorithm === 'rsa-sha256') ?? candidates[0];
    if (key !== undefined) {
      const privateKeyPem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      return { domain, selector: key.selector, privateKeyPem };
    }
  }
  return undefined;
}

import { parseAddress } from '../core/address.js';
import {
  CONFIRM_KEYWORD,
  type CryptKey,
  confirmCookie,
  datedCookie,
  keywordCookie,
  makeTaggedAddress,
  parseTaggedAddress,
  senderCookie,
  type Tag,
  verifyConfirm,
  verifyDated,
  verifyKeyword,
  verifySender,
} from './cookies.js';

/** The mailbox a tagged address belongs to (`alice-dated-...@example.org` -> alice@example.org). */
export function userOfTaggedAddress(address: string): string | undefined {
  const tagged = parseTaggedAddress(address);
  return tagged && `${tagged.local.toLowerCase()}@${tagged.domain}`;
}

function userParts(user: string): { local: string; domain: string } {
  const parsed = parseAddress(user);
  if (!parsed) throw new Error(`"${user}" is not an address like alice@example.org`);
  return { local: parsed.local.toLowerCase(), domain: parsed.domain };
}

/** What a user can hand out: an address that expires, one for one correspondent, one for a purpose. */
export type AddressRequest =
  | { kind: 'dated'; expiresAt: number }
  | { kind: 'sender'; sender: string }
  | { kind: 'keyword'; keyword: string };

/** A tagged address of `user` that skips the challenge while valid (`expiresAt` in ms). */
export function makeUserAddress(key: CryptKey, user: string, request: AddressRequest): string {
  const { local, domain } = userParts(user);
  switch (request.kind) {
    case 'dated':
      return makeTaggedAddress(
        local,
        'dated',
        datedCookie(key, Math.floor(request.expiresAt / 1000)),
        domain,
      );
    case 'sender':
      return makeTaggedAddress(local, 'sender', senderCookie(key, request.sender), domain);
    case 'keyword':
      return makeTaggedAddress(local, 'keyword', keywordCookie(key, request.keyword), domain);
  }
}

/**
 * The address a challenge comes from and a reply goes to, as TMDA writes it:
 * `LOCAL-confirm-accept.TS.PID.MAC@DOMAIN`, the MAC over TS + PID + "accept".
 */
export function confirmAddress(key: CryptKey, user: string, createdAt: number, pendingId: number): string {
  const { local, domain } = userParts(user);
  const cookie = confirmCookie(key, Math.floor(createdAt / 1000), pendingId, CONFIRM_KEYWORD);
  return makeTaggedAddress(local, 'confirm', `${CONFIRM_KEYWORD}.${cookie}`, domain);
}

/** A confirm address that verified: whose it is and which pending entry it names. */
export interface ConfirmReference {
  user: string;
  ts: number;
  pendingId: number;
}

/** Reads a confirm address; undefined when it is not one or its MAC does not verify. */
export function readConfirmAddress(key: CryptKey, address: string): ConfirmReference | undefined {
  const tagged = parseTaggedAddress(address);
  const prefix = `${CONFIRM_KEYWORD}.`;
  if (tagged?.tag !== 'confirm' || !tagged.cookie.startsWith(prefix)) return undefined;
  const verdict = verifyConfirm(key, tagged.cookie.slice(prefix.length), CONFIRM_KEYWORD);
  if (!verdict.ok) return undefined;
  return { user: `${tagged.local.toLowerCase()}@${tagged.domain}`, ts: verdict.ts, pendingId: verdict.pid };
}

/** Outcome of looking at the recipient address for a tag that lets the sender through. */
export type TagCheck =
  | { valid: true; tag: Exclude<Tag, 'confirm'> }
  | { valid: false; tag?: Tag; reason: string };

/**
 * Is `recipientAddress` a dated, sender or keyword address of `user` that is valid for this
 * sender now (`now` in ms)? Confirm addresses never let a message through: they are replies.
 */
export function checkTaggedAddress(
  key: CryptKey,
  options: { user: string; recipientAddress: string; sender: string; now: number },
): TagCheck {
  const tagged = parseTaggedAddress(options.recipientAddress);
  if (!tagged) return { valid: false, reason: 'untagged' };
  if (`${tagged.local.toLowerCase()}@${tagged.domain}` !== options.user.toLowerCase()) {
    return { valid: false, tag: tagged.tag, reason: 'other-user' };
  }
  const tag = tagged.tag;
  if (tag === 'confirm') return { valid: false, tag, reason: 'confirm-address' };
  const verdict =
    tag === 'dated'
      ? verifyDated(key, tagged.cookie, Math.floor(options.now / 1000))
      : tag === 'sender'
        ? verifySender(key, tagged.cookie, options.sender)
        : verifyKeyword(key, tagged.cookie);
  if (!verdict.ok) return { valid: false, tag, reason: verdict.reason };
  return { valid: true, tag };
}

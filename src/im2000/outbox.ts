// The sender's side of the store as plain functions, so the running PostOffice and the CLI (which
// writes into the same im2000.db while the server's notice loop picks the work up) do the same.
import { createHash, randomBytes } from 'node:crypto';
import { domainOf } from '../core/address.js';
import { OutpostError } from '../core/errors.js';
import { normalizeName } from '../dns/names.js';
import type { MessageStatus, OutgoingMessage } from './protocol.js';
import type { Im2000Store } from './store.js';

export interface OutboxLimits {
  /** The domains whose users may send. */
  domains: readonly string[];
  quotaBytes: number;
  expiryMs: number;
  maxMessageBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS = {
  quotaBytes: 100 * 1024 * 1024,
  expiryMs: 7 * 86_400_000,
  maxMessageBytes: 25 * 1024 * 1024,
};

export function sha256Base64(body: Buffer): string {
  return createHash('sha256').update(body).digest('base64');
}

/** The unfolded Subject header of a message, cut to the notice's 200 characters. */
export function subjectOf(message: Buffer): string {
  const head = message.subarray(0, 64 * 1024).toString('utf8');
  const end = head.search(/\r?\n\r?\n/);
  const unfolded = (end < 0 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const match = /^subject:[ \t]*(.*)$/im.exec(unfolded);
  return (match?.[1] ?? '').trim().slice(0, 200);
}

/**
 * Stores a message of a local sender under its quota; each recipient gets its own fetch token and
 * is due for a notice now. Throws BAD_ADDRESS, MESSAGE_TOO_BIG or IM2000_QUOTA_EXCEEDED.
 */
export function storeOutgoing(
  store: Im2000Store,
  outgoing: OutgoingMessage,
  limits: OutboxLimits,
  now: number,
): string {
  const local = new Set(limits.domains.map(normalizeName));
  if (!local.has(domainOf(outgoing.from))) {
    throw new OutpostError('BAD_ADDRESS', `${outgoing.from} is not a local sender`);
  }
  const to = [...new Set(outgoing.to)];
  if (to.length === 0 || to.some((address) => domainOf(address) === '')) {
    throw new OutpostError('BAD_ADDRESS', 'recipients missing or malformed');
  }
  if (outgoing.message.length > limits.maxMessageBytes) throw new OutpostError('MESSAGE_TOO_BIG');
  const id = randomBytes(16).toString('base64url');
  const stored = store.insertWithinQuota(
    {
      id,
      sender: outgoing.from,
      body: outgoing.message,
      sha256: sha256Base64(outgoing.message),
      subject: subjectOf(outgoing.message),
      createdAt: now,
      expiresAt: now + limits.expiryMs,
      recipients: to.map((address) => ({ address, token: randomBytes(32).toString('base64url') })),
    },
    limits.quotaBytes,
    now,
  );
  if (!stored) {
    throw new OutpostError(
      'IM2000_QUOTA_EXCEEDED',
      `${outgoing.from} has no room for ${outgoing.message.length} bytes`,
    );
  }
  return id;
}

export function messageStatus(store: Im2000Store, id: string): MessageStatus {
  const status = store.status(id);
  if (status === undefined) throw new OutpostError('IM2000_UNKNOWN_MESSAGE', id);
  return status;
}

/** Recalls every recipient that has not fetched yet; IM2000_ALREADY_FETCHED when none could be. */
export function recallMessage(store: Im2000Store, id: string): MessageStatus {
  messageStatus(store, id);
  if (store.recall(id).length === 0) throw new OutpostError('IM2000_ALREADY_FETCHED', id);
  return messageStatus(store, id);
}

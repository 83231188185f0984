// Checks what callers hand the store and turns it into what crosses to the writer thread. Bad
// input is refused here, before it can reach a transaction it would share with other messages.
import { OutpostError } from '../../../core/errors.js';
import type { NewMessage, User } from '../types.js';
import { BODY_FILE_ID } from './bodies.js';
import type { EncodedMessage, EncodedRecipient, EncodedUser } from './protocol.js';
import { encodeNotify } from './rows.js';

function badRequest(detail: string): OutpostError {
  return new OutpostError('BAD_REQUEST', detail);
}

function json(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw badRequest(`${what} is not serializable: ${String(error)}`);
  }
}

function encodeRecipients(message: NewMessage): EncodedRecipient[] {
  if (!Array.isArray(message.recipients) || message.recipients.length === 0) {
    throw badRequest(`message ${message.id} has no recipients`);
  }
  return message.recipients.map((rcpt) => {
    if (typeof rcpt.address !== 'string' || rcpt.address === '')
      throw badRequest('recipient without address');
    if (typeof rcpt.target !== 'string' || rcpt.target === '')
      throw badRequest(`no target for ${rcpt.address}`);
    const status = rcpt.status ?? 'queued';
    if (status !== 'queued' && status !== 'held' && status !== 'quarantined') {
      throw badRequest(`bad initial status ${String(status)}`);
    }
    return {
      address: rcpt.address,
      orcpt: rcpt.orcpt ?? null,
      notify: encodeNotify(rcpt.notify),
      target: rcpt.target,
      folder: rcpt.folder ?? '',
      status,
    };
  });
}

/**
 * Validates a message and encodes its envelope. The body is not included: the store decides
 * whether it goes inline or to a file.
 */
export function encodeMessage(message: NewMessage): Omit<EncodedMessage, 'body'> {
  if (typeof message.id !== 'string' || !BODY_FILE_ID.test(message.id)) {
    throw badRequest(`bad queue id ${JSON.stringify(message.id)}`);
  }
  if (typeof message.sender !== 'string') throw badRequest('sender must be a string');
  if (!(message.body instanceof Uint8Array)) throw badRequest('body must be a Buffer');
  if (!Number.isSafeInteger(message.receivedAt)) throw badRequest('receivedAt must be a timestamp in ms');
  if (message.ret !== undefined && message.ret !== 'FULL' && message.ret !== 'HDRS')
    throw badRequest('bad RET');
  return {
    id: message.id,
    sender: message.sender,
    size: message.body.byteLength,
    receivedAt: message.receivedAt,
    envid: message.envid ?? null,
    ret: message.ret ?? null,
    meta: json(message.meta ?? {}, 'meta'),
    recipients: encodeRecipients(message),
  };
}

export function encodeUser(user: User): EncodedUser {
  if (typeof user.address !== 'string' || user.address === '') throw badRequest('user without address');
  return {
    address: user.address,
    passwordHash: user.passwordHash ?? null,
    settings: json(user.settings ?? {}, 'settings'),
    createdAt: user.createdAt,
  };
}

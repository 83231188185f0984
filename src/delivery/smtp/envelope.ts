// The MAIL FROM and RCPT TO lines we send, with the ESMTP parameters the peer offers: SIZE,
// BODY=8BITMIME, SMTPUTF8, and the DSN ones (RFC 3461) passed on as the sender asked for them.
import { isAscii as isAsciiBuffer } from 'node:buffer';
import type { LeasedRecipient } from '../../queue/store/types.js';

/** RFC 3461 envelope fields of a message, when it has them. */
export interface DsnEnvelope {
  envid?: string;
  ret?: 'FULL' | 'HDRS';
}

/** RFC 3461 4: xtext, "+XX" for '+', '=', controls, space and every byte outside printable ASCII. */
export function encodeXtext(text: string): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    encoded +=
      byte < 33 || byte > 126 || byte === 0x2b || byte === 0x3d
        ? `+${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return encoded;
}

function isAscii(text: string): boolean {
  return !/[^\p{ASCII}]/u.test(text);
}

/** The MAIL FROM command for a message to a peer with these EHLO extensions. */
export function mailCommand(
  sender: string,
  body: Buffer,
  addresses: readonly string[],
  dsn: DsnEnvelope,
  extensions: ReadonlyMap<string, string>,
): string {
  const params: string[] = [];
  if (extensions.has('SIZE')) params.push(`SIZE=${body.length}`);
  if (extensions.has('8BITMIME') && !isAsciiBuffer(body)) params.push('BODY=8BITMIME');
  if (extensions.has('SMTPUTF8') && ![sender, ...addresses].every(isAscii)) params.push('SMTPUTF8');
  if (extensions.has('DSN')) {
    if (dsn.ret !== undefined) params.push(`RET=${dsn.ret}`);
    if (dsn.envid !== undefined) params.push(`ENVID=${encodeXtext(dsn.envid)}`);
  }
  return [`MAIL FROM:<${sender}>`, ...params].join(' ');
}

/** The RCPT TO command; NOTIFY and ORCPT only when the peer offers DSN. */
export function rcptCommand(rcpt: LeasedRecipient, extensions: ReadonlyMap<string, string>): string {
  const params: string[] = [];
  if (extensions.has('DSN')) {
    if (rcpt.notify !== undefined)
      params.push(`NOTIFY=${rcpt.notify.length === 0 ? 'NEVER' : rcpt.notify.join(',')}`);
    if (rcpt.orcpt !== undefined) {
      // Stored as "<address-type>;<address>", xtext-decoded.
      const split = rcpt.orcpt.indexOf(';');
      if (split > 0)
        params.push(`ORCPT=${rcpt.orcpt.slice(0, split)};${encodeXtext(rcpt.orcpt.slice(split + 1))}`);
    }
  }
  return [`RCPT TO:<${rcpt.address}>`, ...params].join(' ');
}

/**
 * RFC 3461 4.1: a recipient who asked for NOTIFY=SUCCESS and goes to a peer without DSN gets a
 * "relayed" notice from us, since no one further on will send the success notice.
 */
export function needsRelayedNotice(rcpt: LeasedRecipient, extensions: ReadonlyMap<string, string>): boolean {
  return !extensions.has('DSN') && rcpt.notify?.includes('SUCCESS') === true;
}

/**
 * RFC 3461 4.1: a recipient whose NOTIFY went on to a peer that offers DSN is that peer's to
 * report on from now; we send no success notice of our own.
 */
export function passesNoticeOn(rcpt: LeasedRecipient, extensions: ReadonlyMap<string, string>): boolean {
  return extensions.has('DSN') && rcpt.notify !== undefined;
}

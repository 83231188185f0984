import { rfc5322Date } from '../core/time.js';
import { stripForgedAuthResults } from '../pipeline/auth-results.js';
import type { SessionInfo, Transaction } from '../protocol/smtp/types.js';

const CRLF = '\r\n';

/** Offset where the body starts (after the blank line), or the message length when there is none. */
export function headerEnd(message: Buffer): number {
  if (message.length >= 2 && message[0] === 0x0d && message[1] === 0x0a) return 0;
  const at = message.indexOf('\r\n\r\n');
  return at < 0 ? message.length : at + 2;
}

/** True when the header block has a field of that name (case-insensitive, at a line start). */
export function hasHeader(headerBlock: string, name: string): boolean {
  const wanted = `${name.toLowerCase()}:`;
  let start = 0;
  while (start < headerBlock.length) {
    const end = headerBlock.indexOf('\n', start);
    const line = headerBlock.slice(start, end < 0 ? headerBlock.length : end);
    if (line.slice(0, wanted.length).toLowerCase() === wanted) return true;
    if (end < 0) break;
    start = end + 1;
  }
  return false;
}

/** RFC 3848 "with" keyword for the Received header. */
export function receivedProtocol(session: SessionInfo): string {
  const base = session.esmtp ? 'ESMTP' : 'SMTP';
  if (!session.esmtp) return base;
  return `${base}${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
}

/** The trace header we prepend (RFC 5321 4.4), one per message. */
export function receivedHeader(opts: {
  session: SessionInfo;
  tx: Transaction;
  hostname: string;
  queueId: string;
  now: number;
  ptr?: string;
}): string {
  const { session, tx } = opts;
  const remote = session.remoteAddress.includes(':')
    ? `IPv6:${session.remoteAddress}`
    : session.remoteAddress;
  const from = `${session.helo ?? 'unknown'} (${opts.ptr ?? 'unknown'} [${remote}])`;
  const tls = session.tls ? ` (using ${session.tls.protocol} with cipher ${session.tls.cipher})` : '';
  const only = tx.recipients.length === 1 ? `${CRLF}\tfor <${tx.recipients[0]?.address}>` : '';
  return (
    `Received: from ${from}${CRLF}\tby ${opts.hostname} (outpost) with ${receivedProtocol(session)} id ${opts.queueId}` +
    `${tls}${only};${CRLF}\t${rfc5322Date(opts.now)}${CRLF}`
  );
}

/**
 * Prepends Received and adds Message-ID and Date when missing (RFC 6409 8.2/8.3 for submission;
 * we do it on every listener so every stored message is well-formed).
 */
export function stampMessage(
  message: Buffer,
  opts: { received: string; hostname: string; queueId: string; now: number; extraHeaders?: string },
): Buffer {
  const split = headerEnd(message);
  const headers = message.subarray(0, split).toString('latin1');
  let added = '';
  if (!hasHeader(headers, 'message-id')) added += `Message-ID: <${opts.queueId}@${opts.hostname}>${CRLF}`;
  if (!hasHeader(headers, 'date')) added += `Date: ${rfc5322Date(opts.now)}${CRLF}`;
  const prefix = opts.received + (opts.extraHeaders ?? '');
  if (added === '') return Buffer.concat([Buffer.from(prefix, 'latin1'), message]);
  // New fields go at the end of the header block so the author's fields keep their order.
  const unterminated = split === message.length && message[message.length - 1] !== 0x0a;
  return Buffer.concat([
    Buffer.from(prefix, 'latin1'),
    message.subarray(0, split),
    Buffer.from((unterminated ? CRLF : '') + added, 'latin1'),
    message.subarray(split),
  ]);
}

/** Removes incoming Authentication-Results that claim our authserv-id (RFC 8601 5). */
export function withoutForgedAuthResults(message: Buffer, authservId: string): Buffer {
  const split = headerEnd(message);
  const headers = message.subarray(0, split).toString('latin1');
  if (!/^authentication-results:/im.test(headers)) return message;
  const cleaned = stripForgedAuthResults(headers, authservId);
  if (cleaned === headers) return message;
  return Buffer.concat([Buffer.from(cleaned, 'latin1'), message.subarray(split)]);
}

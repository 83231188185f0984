// What `sendmail` does to the text it is given before it is queued: line endings, the lone-dot
// terminator, recipients taken from the header (-t) with Bcc removed, a From: when there is none.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { headerEnd } from '../inbound/headers.js';

const CRLF = '\r\n';
const RECIPIENT_FIELDS = new Set(['to', 'cc', 'bcc']);

/** Bare LF (what local programs write) becomes CRLF, as the queue and SMTP expect. */
export function toCrlf(message: Buffer): Buffer {
  if (!message.includes(0x0a)) return message;
  const text = message.toString('latin1').replace(/\r?\n/g, CRLF);
  return Buffer.from(text, 'latin1');
}

/**
 * Without -i, a line holding only "." ends the message (classic sendmail); the rest is ignored.
 * Works on CRLF text (after toCrlf).
 */
export function cutAtLoneDot(message: Buffer): Buffer {
  if (message.subarray(0, 3).toString('latin1') === `.${CRLF}` || message.toString('latin1') === '.') {
    return Buffer.alloc(0);
  }
  const at = message.indexOf(`${CRLF}.${CRLF}`);
  if (at >= 0) return message.subarray(0, at + 2);
  return message.subarray(message.length - 3).toString('latin1') === `${CRLF}.`
    ? message.subarray(0, message.length - 1)
    : message;
}

/** One header field with its folded continuation lines, as it appears in the message. */
interface Field {
  name: string;
  raw: string;
}

function fields(headerBlock: string): Field[] {
  const result: Field[] = [];
  for (const line of headerBlock.split(CRLF)) {
    if (line === '') continue;
    const last = result.at(-1);
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last.raw += `${CRLF}${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    result.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', raw: line });
  }
  return result;
}

function fieldValue(field: Field): string {
  return field.raw.slice(field.raw.indexOf(':') + 1).replace(/\r\n[ \t]/g, ' ');
}

/** "To: root" (what cron writes) parses as a name without address: it is a local user's name. */
function bareLocalName(name: string): string {
  return /^[^\s@<>"(),;:]+$/.test(name) ? name : '';
}

/**
 * -t: the recipients named in To, Cc and Bcc (groups flattened, duplicates dropped), and the message
 * without its Bcc fields, so blind copies stay blind.
 */
export function takeHeaderRecipients(message: Buffer): { recipients: string[]; message: Buffer } {
  const split = headerEnd(message);
  const headerBlock = message.subarray(0, split).toString('latin1');
  const all = fields(headerBlock);
  const recipients: string[] = [];
  for (const field of all) {
    if (!RECIPIENT_FIELDS.has(field.name)) continue;
    // Header bytes are read as latin1 above; addresses are re-read as UTF-8 (RFC 6532).
    const value = Buffer.from(fieldValue(field), 'latin1').toString('utf8');
    for (const entry of addressparser(value, { flatten: true })) {
      const address = entry.address !== '' ? entry.address : bareLocalName(entry.name);
      if (address !== '' && !recipients.includes(address)) recipients.push(address);
    }
  }
  if (!all.some((field) => field.name === 'bcc')) return { recipients, message };
  const kept = all.filter((field) => field.name !== 'bcc').map((field) => `${field.raw}${CRLF}`);
  return {
    recipients,
    message: Buffer.concat([Buffer.from(kept.join(''), 'latin1'), message.subarray(split)]),
  };
}

/** True when the header block has a From: field. */
export function hasFromField(message: Buffer): boolean {
  const headerBlock = message.subarray(0, headerEnd(message)).toString('latin1');
  return fields(headerBlock).some((field) => field.name === 'from');
}

/** A From: field for a sender, with the -F full name as a (quoted when needed) display name. */
export function fromField(address: string, fullName?: string): string {
  if (fullName === undefined || fullName.trim() === '') return `From: <${address}>${CRLF}`;
  const name = fullName.replace(/[\r\n]/g, ' ').trim();
  // Non-ASCII names go in an RFC 2047 encoded word: header fields we add are written as latin1.
  if (/[^\u0020-\u007e]/.test(name)) {
    return `From: =?UTF-8?B?${Buffer.from(name, 'utf8').toString('base64')}?= <${address}>${CRLF}`;
  }
  const display = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(name)
    ? name
    : `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `From: ${display} <${address}>${CRLF}`;
}

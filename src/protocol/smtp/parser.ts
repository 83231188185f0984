import { isIPv4, isIPv6 } from 'node:net';
import { errorReply, type Reply } from '../../core/reply.js';

/** A command line split into its upper-case verb and its argument text. */
export interface Command {
  verb: string;
  args: string;
}

/** A parse outcome: the value, or the reply that tells the client why its input was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** The path of MAIL FROM / RCPT TO (source route stripped) and the raw ESMTP parameters after it. */
export interface PathArgument {
  address: string;
  params: string[];
}

/** What a mailbox may look like at this point of the dialogue. */
export interface MailboxRules {
  /** `<>`, the null reverse-path (MAIL only). */
  allowNull: boolean;
  /** `<postmaster>` without a domain (RCPT only, RFC 5321 4.1.1.3). */
  allowPostmaster: boolean;
  /** The transaction declared SMTPUTF8, so non-ASCII addresses are allowed (RFC 6531). */
  smtputf8: boolean;
}

// RFC 5321 4.5.3.1: size limits in octets.
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 255;
const MAX_PATH = 256;

// RFC 5321 atext plus '.', and RFC 6531 UTF-8; dot placement is not policed because real mailboxes
// such as "first..last" exist and the receiving side can still deliver them.
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u{80}-\u{10FFFF}]+$/u;
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u{80}-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const DOMAIN_LABEL =
  /^[A-Za-z0-9\u{80}-\u{10FFFF}](?:[A-Za-z0-9\u{80}-\u{10FFFF}-]{0,61}[A-Za-z0-9\u{80}-\u{10FFFF}])?$/u;
const ROUTE = /^@[^\s,:@<>]+(?:,@[^\s,:@<>]+)*$/;
const NON_ASCII = /[\u{80}-\u{10FFFF}]/u;

/** Splits a command line at the first space; the verb is upper-cased, the arguments kept as sent. */
export function splitCommand(line: string): Command {
  const space = line.indexOf(' ');
  if (space < 0) return { verb: line.toUpperCase(), args: '' };
  return { verb: line.slice(0, space).toUpperCase(), args: line.slice(space + 1) };
}

/**
 * Parses `FROM:<path> params` or `TO:<path> params`: keyword case-insensitive, spaces after the
 * colon tolerated, a source route (`<@a,@b:user@c>`) accepted and dropped as RFC 5321 4.1.1.3 asks.
 */
export function parsePathArgument(args: string, keyword: 'FROM:' | 'TO:'): Parsed<PathArgument> {
  const usage = errorReply(
    'PARAM_SYNTAX',
    `Syntax: ${keyword === 'FROM:' ? 'MAIL FROM' : 'RCPT TO'}:<address>`,
  );
  if (args.slice(0, keyword.length).toUpperCase() !== keyword) return { ok: false, reply: usage };
  const rest = args.slice(keyword.length).replace(/^ +/, '');
  if (!rest.startsWith('<')) return { ok: false, reply: usage };
  const close = closingBracket(rest);
  if (close < 0) return { ok: false, reply: usage };
  const tail = rest.slice(close + 1);
  if (tail !== '' && !tail.startsWith(' ')) return { ok: false, reply: usage };
  let address = rest.slice(1, close);
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon < 0 || !ROUTE.test(address.slice(0, colon))) {
      return { ok: false, reply: errorReply('BAD_ADDRESS', 'Bad source route syntax') };
    }
    address = address.slice(colon + 1);
  }
  return { ok: true, value: { address, params: tail.split(' ').filter((token) => token !== '') } };
}

/** The index of the '>' that closes the path starting at index 0, skipping quoted local parts. */
function closingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (char === '>' && !quoted) return i;
  }
  return -1;
}

/** Checks a mailbox of MAIL or RCPT; undefined when acceptable, else the reply to send. */
export function checkMailbox(address: string, rules: MailboxRules): Reply | undefined {
  if (address === '')
    return rules.allowNull ? undefined : errorReply('BAD_ADDRESS', 'Null address not allowed here');
  if (!rules.smtputf8 && NON_ASCII.test(address)) return errorReply('SMTPUTF8_REQUIRED');
  if (Buffer.byteLength(address) + 2 > MAX_PATH) return errorReply('BAD_ADDRESS', 'Path too long');
  if (rules.allowPostmaster && address.toLowerCase() === 'postmaster') return undefined;
  const at = localPartEnd(address);
  if (at < 0 || address[at] !== '@') return errorReply('BAD_ADDRESS');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (Buffer.byteLength(local) > MAX_LOCAL_PART) return errorReply('BAD_ADDRESS', 'Local part too long');
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return errorReply('BAD_ADDRESS');
  if (!isValidDomain(domain)) return errorReply('BAD_ADDRESS', 'Bad domain syntax');
  return undefined;
}

/** Index just past the local part: after the closing quote of a quoted string, else the last '@'. */
function localPartEnd(address: string): number {
  if (!address.startsWith('"')) return address.lastIndexOf('@');
  for (let i = 1; i < address.length; i++) {
    const char = address[i];
    if (char === '\\') i++;
    else if (char === '"') return i + 1;
  }
  return -1;
}

/** A domain name (LDH labels, U-labels under SMTPUTF8) or an address literal `[1.2.3.4]`, `[IPv6:…]`. */
function isValidDomain(domain: string): boolean {
  if (domain.startsWith('[')) {
    if (!domain.endsWith(']')) return false;
    const literal = domain.slice(1, -1);
    if (literal.slice(0, 5).toUpperCase() === 'IPV6:') return isIPv6(literal.slice(5));
    return isIPv4(literal);
  }
  if (domain === '' || Buffer.byteLength(domain) > MAX_DOMAIN) return false;
  return domain.split('.').every((label) => DOMAIN_LABEL.test(label));
}

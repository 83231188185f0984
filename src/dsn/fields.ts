import { oneLine } from './status.js';

const LINE_LIMIT = 78;
const ASCII_PRINTABLE = /^[\x21-\x7e]*$/;
const NON_ASCII = /[\u0080-\u{10ffff}]/u;

/**
 * An address for Final-/Original-Recipient: "rfc822; a@b" when it is ASCII, else the RFC 6533
 * "utf-8" type with every non-ASCII character, '\', '+' and '=' written as \x{HEX}, so the
 * delivery-status part stays 7-bit.
 */
export function recipientField(addressType: string, address: string): string {
  const type = addressType.toLowerCase();
  if (!NON_ASCII.test(address) && type !== 'utf-8') return `${type}; ${oneLine(address)}`;
  let encoded = '';
  for (const char of address) {
    const code = char.codePointAt(0) ?? 0;
    const plain = code > 0x20 && code < 0x7f && char !== '\\' && char !== '+' && char !== '=';
    encoded += plain ? char : `\\x{${code.toString(16).toUpperCase()}}`;
  }
  return `utf-8; ${encoded}`;
}

/** The Original-Recipient value for a stored ORCPT ("rfc822;bob@example.com"); undefined if malformed. */
export function originalRecipientField(orcpt: string): string | undefined {
  const semicolon = orcpt.indexOf(';');
  if (semicolon <= 0) return undefined;
  return recipientField(orcpt.slice(0, semicolon).trim(), orcpt.slice(semicolon + 1).trim());
}

/**
 * An ENVID (stored xtext-decoded, as RFC 3461 section 4.4 hands it over) for Original-Envelope-Id:
 * printable ASCII as it is, any other byte as xtext "+XX" so the field stays 7-bit.
 */
export function envelopeIdField(envid: string): string {
  if (ASCII_PRINTABLE.test(envid)) return envid;
  let encoded = '';
  for (const byte of Buffer.from(envid, 'utf8')) {
    const plain = byte > 0x20 && byte < 0x7f;
    encoded += plain ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** "Name: value" folded at spaces into lines of at most 78 characters where possible. */
export function foldField(name: string, value: string): string {
  const words = value.split(' ');
  let text = `${name}:`;
  let lineLength = text.length;
  for (const word of words) {
    if (lineLength + 1 + word.length > LINE_LIMIT && lineLength > name.length + 1) {
      text += `\r\n ${word}`;
      lineLength = 1 + word.length;
    } else {
      text += ` ${word}`;
      lineLength += 1 + word.length;
    }
  }
  return text;
}

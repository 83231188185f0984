/**
 * The human text a trust list serves in TXT. An entry's text is a small template in the rbldnsd
 * convention: `$` stands for the address asked about and `$$` for a dollar sign, so a text such
 * as "Listed by trust.example, see https://trust.example/lookup?$" names the address. Texts are
 * printable ASCII (they end up in SMTP replies) and at most 254 bytes once expanded, the limit
 * rbldnsd applies, so both servers answer the same bytes.
 */

/** rbldnsd cuts expanded TXT at 254 bytes; so do we. */
export const MAX_TXT_BYTES = 254;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** In rbldnsd templates `$0`..`$9` are variables and `$=` the entry text: not plain text here. */
const RESERVED_AFTER_DOLLAR = /[0-9=]/;

/** Why a text cannot be an entry's TXT template, or undefined. '' (no TXT) is fine. */
export function textProblem(text: string): string | undefined {
  if (!PRINTABLE_ASCII.test(text)) return 'text must be printable ASCII (no control characters)';
  if (text !== text.trim()) return 'text must not start or end with spaces';
  if (text.length > MAX_TXT_BYTES) return `text is longer than ${MAX_TXT_BYTES} characters`;
  if (text.startsWith('=')) return "text must not start with '=' (rbldnsd reads it as a template switch)";
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$') continue;
    if (text[i + 1] === '$') {
      i++;
      continue;
    }
    const next = text[i + 1] ?? '';
    if (RESERVED_AFTER_DOLLAR.test(next)) {
      return `'$${next}' is an rbldnsd variable; write '$$' for a dollar sign or put a space after '$'`;
    }
  }
  return undefined;
}

/** Whether the template names the address (needs expanding per query). */
export function namesAddress(template: string): boolean {
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== '$') continue;
    if (template[i + 1] === '$') i++;
    else return true;
  }
  return false;
}

/** The template with `$` replaced by the address and `$$` by '$', cut at 254 bytes. */
export function expandText(template: string, address: string): string {
  let out = '';
  for (let i = 0; i < template.length && out.length < MAX_TXT_BYTES; i++) {
    const char = template[i];
    if (char !== '$') out += char;
    else if (template[i + 1] === '$') {
      out += '$';
      i++;
    } else out += address;
  }
  return out.length > MAX_TXT_BYTES ? out.slice(0, MAX_TXT_BYTES) : out;
}

/** A free text (reason, note) made safe to serve: printable ASCII, one line, at most 254 bytes. */
export function plainText(text: string): string {
  const cleaned = text.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return cleaned.length > MAX_TXT_BYTES ? cleaned.slice(0, MAX_TXT_BYTES) : cleaned;
}

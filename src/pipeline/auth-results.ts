import type { CheckResult } from './check.js';

const HEADER_NAME = 'Authentication-Results';
/** RFC 5322 recommends lines of at most 78 characters. */
const FOLD_AT = 78;

// RFC 2045 token: printable ASCII without tspecials ()<>@,;:\"/[]?= and space.
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
// RFC 8601 pvalue's other form: [ [ local-part ] "@" ] domain-name, local-part as a dot-atom.
const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+";
const MAILBOX_OR_DOMAIN = new RegExp(
  `^(?:(?:${ATEXT}(?:\\.${ATEXT})*)?@)?[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.?$`,
);

/** A value as RFC 8601 wants it: bare when it is a token or an address/domain, else a quoted-string. */
export function authResultsValue(value: string): string {
  const clean = value.replace(/[\p{Cc}]+/gu, ' ');
  if (TOKEN.test(clean) || MAILBOX_OR_DOMAIN.test(clean)) return clean;
  return `"${clean.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The words of one resinfo: "method=result", then reason=..., then each ptype.property=value. */
function resinfoWords(method: string, entry: CheckResult): string[] {
  const words = [`${entry.method ?? method}=${entry.result}`];
  if (entry.reason !== undefined && entry.reason !== '')
    words.push(`reason=${authResultsValue(entry.reason)}`);
  for (const [property, value] of Object.entries(entry.props ?? {})) {
    words.push(`${property}=${authResultsValue(value)}`);
  }
  return words;
}

/** Joins words into lines no longer than FOLD_AT where possible, folding only between words. */
function foldWords(words: readonly string[], indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line === '') line = `${indent}${word}`;
    else if (line.length + 1 + word.length <= FOLD_AT) line = `${line} ${word}`;
    else {
      lines.push(line);
      line = `${indent}  ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/**
 * One `Authentication-Results:` field (RFC 8601, RFC 8904 for dnswl) for all results, ending in
 * CRLF: each check's entry (and its `more` entries) on its own folded line, values quoted where the
 * grammar needs it; `<authserv-id>; none` when there is nothing to report.
 */
export function formatAuthResults(
  authservId: string,
  results: Iterable<readonly [string, CheckResult]>,
): string {
  const resinfos: string[][] = [];
  for (const [name, result] of results) {
    for (const entry of [result, ...(result.more ?? [])]) {
      resinfos.push(foldWords(resinfoWords(result.method ?? name, entry), '\t'));
    }
  }
  const head = `${HEADER_NAME}: ${authResultsValue(authservId)}`;
  if (resinfos.length === 0) return `${head}; none\r\n`;
  const body = resinfos.map((lines) => lines.join('\r\n')).join(';\r\n');
  return `${head};\r\n${body}\r\n`;
}

/** Skips whitespace and (nested) comments from `start`; returns the index of the next other character. */
function skipCfws(text: string, start: number): number {
  let i = start;
  let depth = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && depth > 0) i += 2;
    else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')' && depth > 0) {
      depth--;
      i++;
    } else if (depth > 0 || c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else break;
  }
  return i;
}

/** The authserv-id of an Authentication-Results field value (token or quoted-string), lower-cased. */
export function authservIdOf(fieldValue: string): string | undefined {
  const start = skipCfws(fieldValue, 0);
  if (fieldValue[start] === '"') {
    let id = '';
    for (let i = start + 1; i < fieldValue.length; i++) {
      const c = fieldValue[i];
      if (c === '"') return id.toLowerCase();
      if (c === '\\') i++;
      id += fieldValue[i] ?? '';
    }
    return undefined;
  }
  const match = /^[^\s;()"]+/.exec(fieldValue.slice(start));
  return match?.[0].toLowerCase();
}

/** Splits a header block into fields, each with its continuation lines and line endings. */
function headerFields(headerBlock: string): string[] {
  const fields: string[] = [];
  for (const line of headerBlock.split(/(?<=\n)/)) {
    const last = fields.length - 1;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last >= 0) fields[last] += line;
    else fields.push(line);
  }
  return fields;
}

/**
 * Removes incoming Authentication-Results fields that claim our authserv-id (RFC 8601 section 5: a
 * forged one would otherwise be trusted downstream), folded continuation lines included. Fields of
 * other authserv-ids and everything else are kept byte for byte. Decode a Buffer as latin1 to keep
 * 8-bit bytes intact.
 */
export function stripForgedAuthResults(headerBlock: string, authservId: string): string {
  const ours = authservId.toLowerCase();
  return headerFields(headerBlock)
    .filter((field) => {
      const colon = field.indexOf(':');
      if (colon < 0 || field.slice(0, colon).trimEnd().toLowerCase() !== HEADER_NAME.toLowerCase())
        return true;
      return authservIdOf(field.slice(colon + 1)) !== ours;
    })
    .join('');
}

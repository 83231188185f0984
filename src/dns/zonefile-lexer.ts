/**
 * Splits RFC 1035 master-file text (section 5.1) into entries: one per logical line, where
 * parentheses continue a line, ';' starts a comment, and "..." quotes spaces and ';'. Escapes
 * (\X and \DDD) are decoded in `text` and kept as written in `raw`.
 */

/** One word of an entry. */
export interface Token {
  /** The value with escapes decoded (quotes removed). */
  text: string;
  /** As written, without the surrounding quotes. */
  raw: string;
  quoted: boolean;
}

/** One logical line. */
export interface Entry {
  /** Line where the entry starts (1-based, relative to the text given). */
  line: number;
  /** The line began with a blank: the owner is the previous entry's. */
  ownerOmitted: boolean;
  tokens: Token[];
}

/** A syntax error at a line of the text being read. */
export class ZoneSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'ZoneSyntaxError';
  }
}

const BACKSLASH = 0x5c;
const DIGITS = /^\d{3}/;

function isDelimiter(char: string): boolean {
  return (
    char === ' ' ||
    char === '\t' ||
    char === '\r' ||
    char === '\n' ||
    char === ';' ||
    char === '(' ||
    char === ')' ||
    char === '"'
  );
}

/** Decodes \X (X itself) and \DDD (the byte DDD); the bytes form UTF-8. */
export function decodeEscapes(raw: string, line: number): string {
  if (!raw.includes('\\')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) !== BACKSLASH) {
      const end = raw.indexOf('\\', i);
      const plain = raw.slice(i, end === -1 ? raw.length : end);
      bytes.push(...Buffer.from(plain, 'utf8'));
      i += plain.length - 1;
      continue;
    }
    const digits = DIGITS.exec(raw.slice(i + 1, i + 4));
    if (digits) {
      const value = Number(digits[0]);
      if (value > 255) throw new ZoneSyntaxError(line, `escape \\${digits[0]} is above 255`);
      bytes.push(value);
      i += 3;
    } else if (i + 1 < raw.length) {
      const next = raw.codePointAt(i + 1) ?? 0;
      const char = String.fromCodePoint(next);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length;
    } else {
      throw new ZoneSyntaxError(line, 'backslash at the end of a word');
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Reads a quoted string starting at `start` (the opening quote); returns the raw content and the end. */
function readQuoted(text: string, start: number, line: number): { raw: string; end: number } {
  let i = start + 1;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '\\') i += 2;
    else if (char === '"') return { raw: text.slice(start + 1, i), end: i + 1 };
    else if (char === '\n') break;
    else i++;
  }
  throw new ZoneSyntaxError(line, 'unterminated quoted string');
}

function readWord(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '\\') i += 2;
    else if (isDelimiter(char)) break;
    else i++;
  }
  return Math.min(i, text.length);
}

/** The entries of a master file, in order. Throws ZoneSyntaxError on unbalanced quotes or parentheses. */
export function zoneEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let line = 1;
  let entryLine = 1;
  let ownerOmitted = false;
  let depth = 0;
  let openedAt = 0;
  let atLineStart = true;
  const flush = (): void => {
    if (tokens.length > 0) entries.push({ line: entryLine, ownerOmitted, tokens });
    tokens = [];
  };
  let i = 0;
  while (i < text.length) {
    const char = text.charAt(i);
    if (atLineStart && depth === 0) {
      entryLine = line;
      ownerOmitted = char === ' ' || char === '\t';
    }
    atLineStart = false;
    if (char === '\n') {
      if (depth === 0) flush();
      line++;
      atLineStart = true;
      i++;
    } else if (char === ' ' || char === '\t' || char === '\r') {
      i++;
    } else if (char === ';') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (char === '(') {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
    } else if (char === ')') {
      if (depth === 0) throw new ZoneSyntaxError(line, "')' without '('");
      depth--;
      i++;
    } else if (char === '"') {
      const { raw, end } = readQuoted(text, i, line);
      tokens.push({ text: decodeEscapes(raw, line), raw, quoted: true });
      i = end;
    } else {
      const end = readWord(text, i);
      const raw = text.slice(i, end);
      tokens.push({ text: decodeEscapes(raw, line), raw, quoted: false });
      i = end;
    }
  }
  if (depth > 0) throw new ZoneSyntaxError(openedAt, "'(' is never closed");
  flush();
  return entries;
}

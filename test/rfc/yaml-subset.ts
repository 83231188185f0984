/**
 * A reader for the block-style YAML subset the RFC test suites are written in (no dependency needed):
 * documents separated by `---`, block mappings and sequences, plain, single- and double-quoted
 * scalars (plain ones may continue on more-indented lines), literal and folded block scalars
 * (`|`, `>`, with `-`/`+` chomping) and one-line flow sequences. Scalars stay strings; an empty
 * value is null. Anything outside the subset (anchors, tags, flow mappings) is an error naming
 * the line, so a suite that grows new syntax fails loudly instead of being misread.
 */

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  /** 1-based line number in the file, for errors. */
  number: number;
  indent: number;
  /** The line without its indentation. */
  text: string;
}

function isMeaningful(line: Line): boolean {
  return line.text !== '' && !line.text.startsWith('#');
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** Where a `key:` ends (the index of its colon), or -1 when the text is not a mapping entry. */
function keyEnd(text: string): number {
  if (text.startsWith('"') || text.startsWith("'")) {
    const close = quotedEnd(text, 0);
    if (close < 0) return -1;
    const rest = text.slice(close + 1);
    const colon = rest.search(/\S/);
    return colon >= 0 && rest[colon] === ':' && /^(\s|$)/.test(rest.slice(colon + 1))
      ? close + 1 + colon
      : -1;
  }
  if (/^[[{|>!&*%@`]/.test(text)) return -1;
  const match = /:(\s|$)/.exec(text);
  return match === null ? -1 : match.index;
}

/** The index of the quote closing the quoted scalar that starts at `start`, or -1. */
function quotedEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
};

function unquote(text: string, where: number): string {
  const inner = text.slice(1, -1);
  if (text.startsWith("'")) return inner.replace(/''/g, "'");
  return inner.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, code: string) => {
    if (code.length > 1) return String.fromCodePoint(Number.parseInt(code.slice(1), 16));
    const escaped = ESCAPES[code];
    if (escaped === undefined) throw new Error(`line ${where}: unknown escape \\${code}`);
    return escaped;
  });
}

/** A plain scalar without its trailing comment. */
function plain(text: string): string {
  const comment = text.search(/\s#/);
  return (comment < 0 ? text : text.slice(0, comment)).trim();
}

/** Splits the inside of a one-line flow sequence into items, quotes and nesting respected. */
function flowSequence(text: string, where: number): YamlValue[] {
  const items: YamlValue[] = [];
  let i = 1;
  const skipSpace = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  skipSpace();
  if (text[i] === ']') return items;
  for (;;) {
    skipSpace();
    const start = i;
    if (text[i] === '"' || text[i] === "'") {
      const close = quotedEnd(text, i);
      if (close < 0) throw new Error(`line ${where}: unterminated quote in flow sequence`);
      items.push(unquote(text.slice(start, close + 1), where));
      i = close + 1;
    } else if (text[i] === '[') {
      const close = text.indexOf(']', i);
      items.push(flowSequence(text.slice(i, close + 1), where));
      i = close + 1;
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== ']') i++;
      items.push(text.slice(start, i).trim());
    }
    skipSpace();
    if (text[i] === ']') return items;
    if (text[i] !== ',') throw new Error(`line ${where}: expected ',' or ']' in flow sequence`);
    i++;
  }
}

class DocumentReader {
  private position = 0;

  constructor(private readonly lines: Line[]) {}

  /** The next line that is neither blank nor a comment, without consuming it. */
  private peek(): Line | undefined {
    while (this.position < this.lines.length) {
      const line = this.lines[this.position];
      if (line !== undefined && isMeaningful(line)) return line;
      this.position++;
    }
    return undefined;
  }

  document(): YamlValue {
    const first = this.peek();
    if (first === undefined) return null;
    const value = this.block(first.indent);
    const extra = this.peek();
    if (extra !== undefined) throw new Error(`line ${extra.number}: unexpected content`);
    return value;
  }

  /** The node whose first line is the next meaningful line, at indentation `indent`. */
  private block(indent: number): YamlValue {
    const line = this.peek();
    if (line === undefined || line.indent < indent) return null;
    if (isSequenceItem(line.text)) return this.sequence(line.indent);
    if (keyEnd(line.text) >= 0) return this.mapping(line.indent);
    this.position++;
    return this.value(line.text, line, line.indent - 1);
  }

  private mapping(indent: number): YamlValue {
    const map: { [key: string]: YamlValue } = {};
    for (let line = this.peek(); line !== undefined && line.indent === indent; line = this.peek()) {
      const end = keyEnd(line.text);
      if (end < 0) throw new Error(`line ${line.number}: expected 'key: value'`);
      const rawKey = line.text.slice(0, end).trim();
      const key = rawKey.startsWith('"') || rawKey.startsWith("'") ? unquote(rawKey, line.number) : rawKey;
      if (key in map) throw new Error(`line ${line.number}: duplicate key '${key}'`);
      this.position++;
      map[key] = this.value(line.text.slice(end + 1).trim(), line, indent);
    }
    return map;
  }

  private sequence(indent: number): YamlValue {
    const items: YamlValue[] = [];
    for (let line = this.peek(); line?.indent === indent && isSequenceItem(line.text); line = this.peek()) {
      const content = line.text.slice(1).trimStart();
      if (content === '' || content.startsWith('#')) {
        this.position++;
        items.push(this.block(indent + 1));
      } else if (keyEnd(content) >= 0) {
        // "- key: value" opens a mapping whose further keys sit under the first key.
        const column = indent + line.text.length - content.length;
        this.lines[this.position] = { number: line.number, indent: column, text: content };
        items.push(this.mapping(column));
      } else {
        this.position++;
        items.push(this.value(content, line, indent));
      }
    }
    return items;
  }

  /** A value after `key:` or `- `; `parentIndent` is the indentation of the line that holds it. */
  private value(text: string, line: Line, parentIndent: number): YamlValue {
    if (text === '' || text.startsWith('#')) {
      const next = this.peek();
      if (next === undefined) return null;
      if (next.indent > parentIndent) return this.block(next.indent);
      if (next.indent === parentIndent && isSequenceItem(next.text)) return this.sequence(next.indent);
      return null;
    }
    if (text.startsWith('|') || text.startsWith('>')) return this.blockScalar(text, line, parentIndent);
    if (text.startsWith('[')) return flowSequence(plain(text), line.number);
    if (/^[{&*!%@`]/.test(text)) throw new Error(`line ${line.number}: unsupported YAML: ${text}`);
    if (text.startsWith('"') || text.startsWith("'")) {
      if (quotedEnd(text, 0) < 0)
        throw new Error(`line ${line.number}: multi-line quoted scalars are not supported`);
      return unquote(text.slice(0, quotedEnd(text, 0) + 1), line.number);
    }
    return this.plainScalar(plain(text), parentIndent);
  }

  /** A plain scalar continues on following lines indented deeper than its key; lines join with spaces. */
  private plainScalar(first: string, parentIndent: number): string {
    const parts = [first];
    for (let next = this.peek(); next !== undefined && next.indent > parentIndent; next = this.peek()) {
      parts.push(plain(next.text));
      this.position++;
    }
    return parts.join(' ');
  }

  private blockScalar(header: string, line: Line, parentIndent: number): string {
    const match = /^([|>])([-+]?)\s*(#.*)?$/.exec(header);
    if (match === null) throw new Error(`line ${line.number}: unsupported block scalar header '${header}'`);
    const [, style, chomping] = match;
    const body: string[] = [];
    let contentIndent: number | undefined;
    while (this.position < this.lines.length) {
      const next = this.lines[this.position];
      if (next === undefined) break;
      if (next.text !== '') {
        if (next.indent <= parentIndent) break;
        contentIndent ??= next.indent;
        if (next.indent < contentIndent) break;
        body.push(' '.repeat(next.indent - contentIndent) + next.text);
      } else body.push('');
      this.position++;
    }
    const text = style === '|' ? body.join('\n') : fold(body);
    const trimmed = text.replace(/\n+$/, '');
    if (chomping === '-') return trimmed;
    if (chomping === '+') return `${text}\n`;
    return trimmed === '' ? '' : `${trimmed}\n`;
  }
}

/**
 * Folded style: a line break between two ordinary lines becomes a space; k blank lines between them
 * become k newlines; breaks next to more-indented lines are kept.
 */
function fold(lines: readonly string[]): string {
  let text = '';
  let previous: string | undefined;
  let blanks = 0;
  for (const line of lines) {
    if (line === '') {
      blanks++;
      continue;
    }
    if (previous === undefined) text = '\n'.repeat(blanks) + line;
    else {
      const keepBreak = previous.startsWith(' ') || line.startsWith(' ');
      const separator = blanks === 0 && !keepBreak ? ' ' : '\n'.repeat(blanks + (keepBreak ? 1 : 0));
      text += separator + line;
    }
    previous = line;
    blanks = 0;
  }
  return text + '\n'.repeat(blanks);
}

function toLines(text: string, firstNumber: number): Line[] {
  return text.split('\n').map((raw, index) => {
    const line = raw.replace(/\r$/, '');
    const text = line.trimStart();
    if (/^\t/.test(line))
      throw new Error(`line ${firstNumber + index}: tabs are not allowed for indentation`);
    return { number: firstNumber + index, indent: line.length - text.length, text };
  });
}

/** Every document of a YAML stream, in order; comment-only text before the first `---` is not a document. */
export function parseYamlDocuments(source: string): YamlValue[] {
  const documents: YamlValue[] = [];
  const all = source.split('\n');
  let start = 0;
  const flush = (end: number) => {
    const lines = toLines(all.slice(start, end).join('\n'), start + 1);
    if (lines.some(isMeaningful)) documents.push(new DocumentReader(lines).document());
  };
  all.forEach((line, index) => {
    if (/^---(\s|$)/.test(line)) {
      flush(index);
      start = index + 1;
    }
  });
  flush(all.length);
  return documents;
}

import { readFileSync } from 'node:fs';

/** One header field as it stands in the message: name in lower case, raw text without the final line break. */
export interface HeaderField {
  name: string;
  raw: string;
}

/** Anything that takes bytes piece by piece: a crypto Hash, or a collector in tests. */
export interface ByteSink {
  update(data: Buffer): unknown;
}

/** Where the header section ends and the body begins. */
export interface MessageParts {
  /** Offset just after the last header line's line break. */
  headerEnd: number;
  /** Offset of the first body byte (after the empty line); the message length when there is no body. */
  bodyStart: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');

/**
 * Finds the empty line that ends the header section. Bare LF counts as a line break too: a message
 * handed to us with LF endings goes out with CRLF, and that is what the verifier will see.
 */
export function splitMessage(message: Buffer): MessageParts {
  if (message[0] === LF) return { headerEnd: 0, bodyStart: 1 };
  if (message[0] === CR && message[1] === LF) return { headerEnd: 0, bodyStart: 2 };
  let at = message.indexOf(LF);
  while (at >= 0) {
    const next = message[at + 1];
    if (next === LF) return { headerEnd: at + 1, bodyStart: at + 2 };
    if (next === CR && message[at + 2] === LF) return { headerEnd: at + 1, bodyStart: at + 3 };
    at = message.indexOf(LF, at + 1);
  }
  return { headerEnd: message.length, bodyStart: message.length };
}

/**
 * The header fields of a header section read as latin1 (one character per byte, so any 8-bit
 * bytes come back unchanged). Continuation lines join their field; lines without a colon are
 * not fields and are left out. A line ends at LF, with the CR before it dropped.
 */
export function parseHeaderFields(section: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: HeaderField | undefined;
  let start = 0;
  while (start <= section.length) {
    const lineBreak = section.indexOf('\n', start);
    const end = lineBreak < 0 ? section.length : lineBreak;
    const crlf = lineBreak > start && section.charCodeAt(lineBreak - 1) === CR;
    const line = section.slice(start, crlf ? end - 1 : end);
    start = end + 1;
    const first = line.charCodeAt(0);
    if ((first === SP || first === TAB) && current) {
      current.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      current = undefined;
      continue;
    }
    let nameEnd = colon;
    while (nameEnd > 0 && isBlank(line.charCodeAt(nameEnd - 1))) nameEnd--;
    current = { name: line.slice(0, nameEnd).toLowerCase(), raw: line };
    fields.push(current);
  }
  return fields;
}

function isBlank(code: number): boolean {
  return code === SP || code === TAB;
}

/**
 * Relaxed header canonicalization (RFC 6376 section 3.4.2): lower-case name, unfolded value, runs
 * of spaces and tabs as one space, none around the colon or at the end. No trailing CRLF.
 * One scan copies the value's words with a single space between them; line breaks (CRLF or LF)
 * vanish without standing for a space, as the folding whitespace after them does the separating.
 */
export function relaxedHeader(field: HeaderField): string {
  const raw = field.raw;
  const colon = raw.indexOf(':');
  const start = raw.charCodeAt(colon + 1) === SP ? colon + 2 : colon + 1;
  // Most fields are one line with single spaces: then the value is already canonical.
  if (isSingleSpaced(raw, start)) return `${field.name}:${raw.slice(start)}`;
  // Folded fields written tidily (a DKIM-Signature, say) need only their lines joined.
  const joined = joinedTidyLines(raw, start);
  if (joined !== undefined) return `${field.name}:${joined}`;
  let text = `${field.name}:`;
  let hasValue = false;
  let pendingSpace = false;
  let wordStart = -1;
  for (let i = colon + 1; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    const blank = code === SP || code === TAB;
    if (blank || code === LF || (code === CR && raw.charCodeAt(i + 1) === LF)) {
      if (wordStart >= 0) {
        text += raw.slice(wordStart, i);
        wordStart = -1;
      }
      if (blank) pendingSpace = true;
    } else if (wordStart < 0) {
      if (pendingSpace && hasValue) text += ' ';
      pendingSpace = false;
      hasValue = true;
      wordStart = i;
    }
  }
  if (wordStart >= 0) text += raw.slice(wordStart);
  return text;
}

/** True when the text from `start` has no tab or line break, no space at the start or end, and no two spaces in a row. */
function isSingleSpaced(text: string, start: number, end = text.length): boolean {
  let previous = SP;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === TAB || code === LF || code === CR || (code === SP && previous === SP)) return false;
    previous = code;
  }
  return previous !== SP || start === end;
}

/**
 * The relaxed value of a folded field whose lines are each single-spaced and whose continuation
 * lines start with exactly one space or tab: the lines joined by one space. Undefined for any
 * other shape, which the general scan handles.
 */
function joinedTidyLines(raw: string, start: number): string | undefined {
  let joined = '';
  for (let lineStart = start; ; ) {
    const lineBreak = raw.indexOf('\r\n', lineStart);
    const lineEnd = lineBreak < 0 ? raw.length : lineBreak;
    if (!isSingleSpaced(raw, lineStart, lineEnd)) return undefined;
    if (lineEnd > lineStart)
      joined += joined === '' ? raw.slice(lineStart, lineEnd) : ` ${raw.slice(lineStart, lineEnd)}`;
    else if (lineStart > start) return undefined;
    if (lineBreak < 0) return joined;
    const blank = raw.charCodeAt(lineBreak + 2);
    if (blank !== SP && blank !== TAB) return undefined;
    lineStart = lineBreak + 3;
  }
}

/** The exports of relaxed-body.wasm (the .wat beside it explains each). */
interface RelaxedBodyModule {
  memory: { buffer: ArrayBuffer };
  input_offset: { value: number };
  input_capacity: { value: number };
  output_offset: { value: number };
  begin(): void;
  piece(length: number): void;
  relax(): number;
  pending(): number;
  finish(): number;
}

// Compiled once, synchronously: the module is under 1 KB. Its memory never grows, so the views stay valid.
const relaxer = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL('./relaxed-body.wasm', import.meta.url))),
).exports as unknown as RelaxedBodyModule;
const relaxerInput = new Uint8Array(
  relaxer.memory.buffer,
  relaxer.input_offset.value,
  relaxer.input_capacity.value,
);
const relaxerOutput = Buffer.from(relaxer.memory.buffer, relaxer.output_offset.value);

/**
 * Feeds the relaxed canonical body (RFC 6376 section 3.4.4) into `hash`, without building it in
 * memory: trailing spaces and tabs on each line dropped, inner runs reduced to one space, empty
 * lines at the end dropped, every line ending in CRLF. An empty body hashes as nothing.
 * The byte loop is WebAssembly (relaxed-body.wat); the body goes through it in pieces that fit
 * its input area, and its output goes to the hash whenever a call returns.
 */
export function hashRelaxedBody(body: Buffer, hash: ByteSink): void {
  relaxer.begin();
  const capacity = relaxerInput.length;
  for (let start = 0; start < body.length; ) {
    let end = Math.min(body.length, start + capacity);
    // A CR LF split across two pieces would read as a bare CR: the CR waits for the next piece.
    if (end < body.length && body[end - 1] === CR) end--;
    relaxerInput.set(body.subarray(start, end));
    relaxer.piece(end - start);
    do {
      const written = relaxer.relax();
      if (written > 0) hash.update(relaxerOutput.subarray(0, written));
    } while (relaxer.pending());
    start = end;
  }
  if (relaxer.finish()) hash.update(CRLF);
}

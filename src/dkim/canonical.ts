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
/** Anything relaxed body canonicalization changes, other than empty lines at the end. */
const NEEDS_RELAXING = /\t| (?: |\r\n|$)|(?:^|[^\r])\n/;

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
function isSingleSpaced(text: string, start: number): boolean {
  let previous = SP;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === TAB || code === LF || code === CR || (code === SP && previous === SP)) return false;
    previous = code;
  }
  return previous !== SP || start === text.length;
}

// One scratch buffer for every call: hashRelaxedBody is synchronous, so calls never interleave.
const scratch = Buffer.allocUnsafe(64 * 1024);
// Flush before fewer than this many bytes are left: one step writes at most a space, a byte, or CRLF.
const SCRATCH_LIMIT = scratch.length - 8;

/**
 * Feeds the relaxed canonical body (RFC 6376 section 3.4.4) into `hash`, without building it in
 * memory: trailing spaces and tabs on each line dropped, inner runs reduced to one space, empty
 * lines at the end dropped, every line ending in CRLF. An empty body hashes as nothing.
 */
export function hashRelaxedBody(body: Buffer, hash: ByteSink): void {
  if (alreadyRelaxed(body)) {
    hashWithoutTrailingEmptyLines(body, hash);
    return;
  }
  let used = 0;
  let pendingSpace = false;
  let pendingEmptyLines = 0;
  let lineHasContent = false;
  const length = body.length;
  for (let i = 0; i < length; i++) {
    const byte = body[i] as number;
    // Printable bytes come first: they are nearly all of a body, and one comparison settles them.
    if (byte > SP || (byte !== SP && byte !== TAB && byte !== LF && (byte !== CR || body[i + 1] !== LF))) {
      if (!lineHasContent) {
        // Empty lines count only once content follows them; at the end of the body they vanish.
        for (; pendingEmptyLines > 0; pendingEmptyLines--) {
          if (used > SCRATCH_LIMIT) used = flushScratch(hash, used);
          scratch[used++] = CR;
          scratch[used++] = LF;
        }
        lineHasContent = true;
      }
      if (pendingSpace) {
        scratch[used++] = SP;
        pendingSpace = false;
      }
      scratch[used++] = byte;
      // The rest of a run of printable bytes in a tight loop, bounded so the scratch cannot overflow.
      const runEnd = Math.min(length, i + SCRATCH_LIMIT - used);
      while (i + 1 < runEnd) {
        const next = body[i + 1] as number;
        if (next <= SP) break;
        scratch[used++] = next;
        i++;
      }
      if (used > SCRATCH_LIMIT) used = flushScratch(hash, used);
    } else if (byte === SP || byte === TAB) {
      pendingSpace = true;
    } else {
      // A line break: LF, or CR LF (skip the LF).
      if (byte === CR) i++;
      if (lineHasContent) {
        scratch[used++] = CR;
        scratch[used++] = LF;
        if (used > SCRATCH_LIMIT) used = flushScratch(hash, used);
      } else {
        pendingEmptyLines++;
      }
      lineHasContent = false;
      pendingSpace = false;
    }
  }
  if (lineHasContent) {
    scratch[used++] = CR;
    scratch[used++] = LF;
  }
  flushScratch(hash, used);
}

/**
 * True when relaxed canonicalization would change nothing but the empty lines at the end: CRLF
 * line breaks only, no tab, no run of spaces, no space at a line's end. Base64 and
 * quoted-printable bodies nearly always are; native searches settle it faster than the byte loop.
 */
function alreadyRelaxed(body: Buffer): boolean {
  // A tab anywhere settles it with one memchr, sparing a latin1 copy of the whole body.
  if (body.indexOf(TAB) >= 0) return false;
  // One pass of V8's regular expression engine over a latin1 view beats per-line Buffer searches.
  return !NEEDS_RELAXING.test(body.toString('latin1'));
}

function hashWithoutTrailingEmptyLines(body: Buffer, hash: ByteSink): void {
  let end = body.length;
  while (end >= 2 && body[end - 1] === LF && body[end - 2] === CR) end -= 2;
  if (end === 0) return;
  hash.update(body.subarray(0, end));
  hash.update(CRLF);
}

function flushScratch(hash: ByteSink, used: number): number {
  hash.update(scratch.subarray(0, used));
  return 0;
}

import type { ErrorCode } from '../../core/errors.js';

/** Why a message read to its terminator is refused; each is a catalogue error. */
export type DataProblem = Extract<
  ErrorCode,
  'MESSAGE_TOO_BIG' | 'BARE_LINE_ENDING' | 'NUL_IN_MESSAGE' | 'LINE_TOO_LONG'
>;

/** A message read up to `CRLF.CRLF`: the content, or the problem that refuses it. */
export type DataResult = { ok: true; message: Buffer } | { ok: false; problem: DataProblem };

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const HELD_CR = Buffer.from('\r');

// Where the scanner stands. Only a CRLF leads to LINE_START, so the terminator can only be
// CRLF "." CRLF: "\n.\n", "\r.\r", "\n.\r\n" and "\r\n.\n" are bare line endings inside the message.
const IN_LINE = 0;
const AFTER_CR = 1;
const LINE_START = 2;
const AFTER_DOT = 3;
const AFTER_DOT_CR = 4;

/**
 * Reads the DATA section of one message from successive socket chunks: finds the end marker across
 * chunk boundaries without re-scanning, removes dot-stuffing (RFC 5321 4.5.2), and notes bare CR or
 * LF (SMTP smuggling), NUL, over-long lines and oversize in the same pass. The content
 * is kept as views of the chunks and copied once at the end; past the size limit it is discarded
 * while the scan goes on to the terminator, so the session stays in sync.
 */
export class DataReader {
  private state = LINE_START;
  /** Bytes of the current line seen in earlier chunks. */
  private carriedLineLength = 0;
  private readonly parts: Buffer[] = [];
  private size = 0;
  private tooBig = false;
  private bareLineEnding = false;
  private nul = false;
  private longLine = false;

  constructor(
    private readonly maxMessageSize: number,
    private readonly maxLineLength: number,
  ) {}

  /** Scans one chunk; returns the offset just past the terminator, or -1 when more data is needed. */
  feed(chunk: Buffer): number {
    const length = chunk.length;
    let state = this.state;
    let partStart = 0;
    // Index in this chunk where the current line began; negative when it began in an earlier chunk.
    let lineStart = -this.carriedLineLength;
    let bare = false;
    let long = false;
    // Inside a line only CR and LF matter, so the scan jumps between them with native searches
    // (memchr); the cached positions keep a chunk of lone CRs from being searched more than once.
    let nextCr = chunk.indexOf(CR);
    let nextLf = chunk.indexOf(LF);
    const nulAt = chunk.indexOf(NUL);
    if (state === AFTER_DOT_CR && length > 0 && chunk[0] !== LF) {
      // The CR held back at the end of the previous chunk was content after all.
      this.keep(HELD_CR);
    }
    let i = 0;
    while (i < length) {
      if (state === IN_LINE) {
        if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
        if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
        if (nextLf !== -1 && (nextCr === -1 || nextLf < nextCr)) {
          bare = true;
          if (nextLf + 1 - lineStart > this.maxLineLength) long = true;
          lineStart = nextLf + 1;
          i = nextLf + 1;
        } else if (nextCr !== -1) {
          state = AFTER_CR;
          i = nextCr + 1;
        } else {
          i = length;
        }
        continue;
      }
      const byte = chunk[i] as number; // i < length
      if (state === AFTER_CR) {
        if (byte === LF) {
          if (i + 1 - lineStart > this.maxLineLength) long = true;
          lineStart = i + 1;
          state = LINE_START;
          i++;
        } else {
          bare = true;
          if (byte === CR) i++;
          else state = IN_LINE;
        }
      } else if (state === LINE_START) {
        if (byte === DOT) {
          // A leading dot is either stuffing or the start of the terminator: never content.
          this.keep(chunk.subarray(partStart, i));
          partStart = i + 1;
          state = AFTER_DOT;
          i++;
        } else {
          state = IN_LINE;
        }
      } else if (state === AFTER_DOT) {
        if (byte === CR) {
          state = AFTER_DOT_CR;
          i++;
        } else {
          state = IN_LINE;
        }
      } else if (byte === LF) {
        // AFTER_DOT_CR + LF: the terminator. The CR before it is not content either.
        this.keep(chunk.subarray(partStart, Math.max(partStart, i - 1)));
        this.note(bare, nulAt !== -1 && nulAt < i, long);
        return i + 1;
      } else {
        state = AFTER_CR;
      }
    }
    // A CR right after a leading dot may begin the terminator: hold it until the next chunk decides.
    this.keep(chunk.subarray(partStart, state === AFTER_DOT_CR ? Math.max(partStart, length - 1) : length));
    this.note(bare, nulAt !== -1, long);
    this.state = state;
    this.carriedLineLength = length - lineStart;
    return -1;
  }

  /** The outcome once feed() has found the terminator. */
  result(): DataResult {
    if (this.tooBig) return { ok: false, problem: 'MESSAGE_TOO_BIG' };
    if (this.bareLineEnding) return { ok: false, problem: 'BARE_LINE_ENDING' };
    if (this.nul) return { ok: false, problem: 'NUL_IN_MESSAGE' };
    if (this.longLine) return { ok: false, problem: 'LINE_TOO_LONG' };
    return { ok: true, message: Buffer.concat(this.parts, this.size) };
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (this.tooBig) return;
    if (this.size > this.maxMessageSize) {
      this.tooBig = true;
      this.parts.length = 0;
      return;
    }
    this.parts.push(part);
  }

  private note(bare: boolean, nul: boolean, long: boolean): void {
    if (bare) this.bareLineEnding = true;
    if (nul) this.nul = true;
    if (long) this.longLine = true;
  }
}

import { isUtf8 } from 'node:buffer';

/** One command line taken from the input, or why a line was dropped (too long, not UTF-8). */
export type LineResult = { kind: 'line'; text: string } | { kind: 'too-long' } | { kind: 'bad-utf8' };

const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
const CR = 0x0d;

/**
 * Input that arrived while commands are read: pipelined read-ahead stays here until its turn. Lines
 * end at LF (a CR before it is dropped). A line longer than the limit is discarded up to its LF and
 * reported once, so the session stays in step with the client.
 */
export class LineBuffer {
  private buffer: Buffer = EMPTY;
  private start = 0;
  /** Everything before this index has been searched for LF already. */
  private scanned = 0;
  private discarding = false;

  /** Bytes received and not yet consumed. */
  get pending(): number {
    return this.buffer.length - this.start;
  }

  push(chunk: Buffer): void {
    if (this.start >= this.buffer.length) {
      this.buffer = chunk;
      this.start = 0;
      this.scanned = 0;
      return;
    }
    this.buffer = Buffer.concat([this.buffer.subarray(this.start), chunk]);
    this.scanned -= this.start;
    this.start = 0;
  }

  /** The next complete line (without its line ending), or undefined until more input arrives. */
  nextLine(maxLength: number): LineResult | undefined {
    const lf = this.buffer.indexOf(LF, this.scanned);
    if (lf < 0) {
      if (this.pending >= maxLength || this.discarding) {
        // No LF within the limit: this line can no longer fit, so drop what we have of it.
        this.discarding = true;
        this.clear();
      } else {
        this.scanned = this.buffer.length;
      }
      return undefined;
    }
    const lineStart = this.start;
    this.start = lf + 1;
    this.scanned = this.start;
    if (this.discarding || lf + 1 - lineStart > maxLength) {
      this.discarding = false;
      return { kind: 'too-long' };
    }
    const end = lf > lineStart && this.buffer[lf - 1] === CR ? lf - 1 : lf;
    // Commands are ASCII, or UTF-8 under SMTPUTF8 (RFC 6531); anything else would be decoded lossily.
    if (!isUtf8(this.buffer.subarray(lineStart, end))) return { kind: 'bad-utf8' };
    return { kind: 'line', text: this.buffer.toString('utf8', lineStart, end) };
  }

  /** Removes and returns everything buffered (the start of DATA content). */
  takeAll(): Buffer {
    const rest = this.buffer.subarray(this.start);
    this.clear();
    return rest;
  }

  /** Drops everything buffered. */
  clear(): void {
    this.buffer = EMPTY;
    this.start = 0;
    this.scanned = 0;
  }
}

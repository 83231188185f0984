import type { Socket } from 'node:net';

/**
 * Batches replies: everything queued during one event-loop turn goes out in one socket write, so a
 * pipelined group costs one syscall. Flushing on setImmediate never holds replies back while the
 * session waits for input, which RFC 2920 forbids.
 */
export class ReplyWriter {
  private outgoing = '';
  private scheduled = false;

  constructor(public socket: Socket) {}

  /** Queues text for the end of this turn. */
  write(text: string): void {
    this.outgoing += text;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Writes what is queued now (before a TLS upgrade, before yielding). */
  flushNow(): void {
    if (this.outgoing === '') return;
    const text = this.outgoing;
    this.outgoing = '';
    if (this.socket.writable) this.socket.write(text);
  }

  /** Writes what is queued plus a last text, then half-closes the connection. */
  end(last: string): void {
    const text = this.outgoing + last;
    this.outgoing = '';
    if (this.socket.writable) this.socket.end(text);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.flushNow();
  };
}

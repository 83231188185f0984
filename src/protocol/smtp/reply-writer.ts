import type { Socket } from 'node:net';

/** A reply as it goes on the wire: formatted text, or bytes prepared once for replies sent often. */
export type WireReply = string | Buffer;

/**
 * Batches replies: everything queued during one event-loop turn goes out in one socket write
 * (corked, so several replies become one writev), so a pipelined group costs one syscall. Flushing
 * on setImmediate never holds replies back while the session waits for input, which RFC 2920
 * forbids.
 */
export class ReplyWriter {
  private queued: WireReply[] = [];
  private scheduled = false;

  constructor(public socket: Socket) {}

  /** Queues a reply for the end of this turn. */
  write(reply: WireReply): void {
    this.queued.push(reply);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Writes what is queued now (before a TLS upgrade, before yielding). */
  flushNow(): void {
    if (this.queued.length === 0) return;
    const replies = this.takeQueued();
    if (!this.socket.writable) return;
    if (replies.length === 1) {
      this.socket.write(replies[0] as WireReply);
      return;
    }
    this.socket.cork();
    for (const reply of replies) this.socket.write(reply);
    this.socket.uncork();
  }

  /** Writes what is queued plus a last reply (if any), then half-closes the connection. */
  end(last: WireReply | undefined): void {
    const replies = this.takeQueued();
    if (!this.socket.writable) return;
    // end() uncorks, so queued replies and the last one leave in one write.
    if (replies.length > 0) this.socket.cork();
    for (const reply of replies) this.socket.write(reply);
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
  }

  /**
   * Writes what is queued plus a last reply, then closes the connection as soon as the kernel has
   * the bytes, without waiting for the client's FIN: after QUIT it has nothing more to send.
   */
  close(last: WireReply): void {
    const replies = this.takeQueued();
    const socket = this.socket;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (replies.length > 0) socket.cork();
    for (const reply of replies) socket.write(reply);
    socket.write(last, () => socket.destroy());
    if (replies.length > 0) socket.uncork();
  }

  private takeQueued(): WireReply[] {
    const replies = this.queued;
    if (replies.length > 0) this.queued = [];
    return replies;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.flushNow();
  };
}

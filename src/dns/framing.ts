/** DNS over TCP frames each message with a 2-byte length (RFC 1035 section 4.2.2, RFC 7766). */
const EMPTY = Buffer.alloc(0);

/** The message with its 2-byte length prefix. Messages over 65535 bytes cannot be framed. */
export function frameMessage(message: Buffer): Buffer {
  if (message.length > 0xffff)
    throw new RangeError(`DNS message of ${message.length} bytes is too long for TCP`);
  const framed = Buffer.allocUnsafe(message.length + 2);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/** Collects TCP chunks and hands back each complete message; holds at most one partial frame. */
export class FrameReader {
  private pending: Buffer = EMPTY;

  /** The complete messages that `chunk` finishes, in order (views into the received data). */
  push(chunk: Buffer): Buffer[] {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    let offset = 0;
    while (data.length - offset >= 2) {
      const length = data.readUInt16BE(offset);
      if (data.length - offset - 2 < length) break;
      messages.push(data.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.pending = offset === data.length ? EMPTY : data.subarray(offset);
    return messages;
  }

  /** Bytes of a frame not yet complete. */
  get buffered(): number {
    return this.pending.length;
  }
}

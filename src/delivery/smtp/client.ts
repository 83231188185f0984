// A small SMTP client for outbound delivery: every command gets its own reply, read in order, so
// each RCPT has its own answer and a transaction can stop after the RCPTs (phase 1) and send DATA
// later (phase 2). Commands go one at a time, or as one group when the peer offers PIPELINING.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Reply } from '../../core/reply.js';

/** Where and how to open a connection. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Our source address (bind address for multi-homed hosts and loopback tests). */
  localAddress?: string;
  /** Time for the TCP connect (and the handshake under implicit TLS). */
  timeoutMs: number;
  /** Implicit TLS from the first byte (smarthost on 465); absent = plain TCP. */
  tls?: ConnectionOptions;
}

/** Why the conversation broke off: the peer went away, said nothing in time, or spoke nonsense. */
export class SmtpConnectionError extends Error {
  constructor(
    readonly kind: 'connect' | 'closed' | 'timeout' | 'protocol' | 'tls',
    message: string,
  ) {
    super(message);
    this.name = 'SmtpConnectionError';
  }
}

const REPLY_LINE = /^([2-5]\d\d)([ -]|$)(.*)$/;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;
// A server reply longer than this is hostile or broken; RFC 5321 allows 512 bytes per line.
const MAX_PENDING_BYTES = 64 * 1024;

/** Parses the wire lines of one reply; the enhanced code comes from the last line (RFC 2034). */
export function parseReplyLines(lines: readonly string[]): Reply {
  const texts = lines.map((line) => line.slice(4));
  const enhanced = ENHANCED.exec(texts[texts.length - 1] ?? '')?.[1];
  const stripped = enhanced === undefined ? texts : texts.map((text) => text.replace(ENHANCED, ''));
  const code = Number(lines[0]?.slice(0, 3));
  return enhanced === undefined
    ? { code, text: stripped.join('\n') }
    : { code, enhanced, text: stripped.join('\n') };
}

/**
 * The body as sent after DATA: dot-stuffed, ending in CRLF, then the terminating ".CRLF"
 * (RFC 5321 4.5.2). The queued body already has CRLF line endings.
 */
export function encodeDataBody(body: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  if (body[0] === 0x2e) parts.push(Buffer.from('.'));
  for (let at = body.indexOf('\n.', 0); at >= 0; at = body.indexOf('\n.', at + 1)) {
    parts.push(body.subarray(start, at + 1), Buffer.from('.'));
    start = at + 1;
  }
  parts.push(body.subarray(start));
  const endsWithNewline =
    body.length >= 2 && body[body.length - 2] === 0x0d && body[body.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithNewline || body.length === 0 ? '.\r\n' : '\r\n.\r\n'));
  return parts;
}

/** One client connection; replies are matched to commands by their order (RFC 2920 3). */
export class SmtpClientConnection {
  private socket: Socket;
  private received = '';
  private partial: string[] = [];
  private readonly replies: Reply[] = [];
  private waiter: ((outcome: Reply | SmtpConnectionError) => void) | undefined;
  private failure: SmtpConnectionError | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  /** Opens a connection; resolves once TCP (and implicit TLS) is up. Read the greeting next. */
  static async open(options: ConnectOptions): Promise<SmtpClientConnection> {
    const tcp = netConnect({ host: options.host, port: options.port, localAddress: options.localAddress });
    // Without this, Nagle holds back the end of a write until the peer ACKs the start, and the
    // peer delays that ACK by up to 40 ms while it waits for the rest: 40 ms per message.
    tcp.setNoDelay(true);
    const socket = options.tls === undefined ? tcp : tlsConnect({ ...options.tls, socket: tcp });
    const readyEvent = options.tls === undefined ? 'connect' : 'secureConnect';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpConnectionError('timeout', `connect to ${options.host}:${options.port} timed out`));
      }, options.timeoutMs);
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve();
      });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new SmtpConnectionError('connect', `connect to ${options.host}:${options.port}: ${error.message}`),
        );
      };
      socket.once('error', fail);
    });
    return new SmtpClientConnection(socket);
  }

  /** True once TLS is up (implicit or after STARTTLS). */
  get secure(): boolean {
    return 'encrypted' in this.socket && this.socket.encrypted === true;
  }

  /**
   * False once the connection broke or was closed, or when the peer said something unasked (a 421
   * before hanging up an idle session): its replies would no longer match our commands.
   */
  get usable(): boolean {
    return (
      this.failure === undefined &&
      !this.socket.destroyed &&
      this.replies.length === 0 &&
      this.partial.length === 0
    );
  }

  /** The next reply (the greeting, or the answer to what was just written). */
  readReply(timeoutMs: number): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.fail(new SmtpConnectionError('timeout', `no reply within ${timeoutMs} ms`));
        reject(this.failure);
      }, timeoutMs);
      this.waiter = (outcome) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (outcome instanceof SmtpConnectionError) reject(outcome);
        else resolve(outcome);
      };
    });
  }

  /** Sends one command line (CRLF added) and reads its reply. */
  command(line: string, timeoutMs: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.readReply(timeoutMs);
  }

  /**
   * Sends several commands in one write and reads their replies in order (RFC 2920 PIPELINING:
   * only for a peer that offers it, and only commands whose replies do not change what follows).
   */
  async pipeline(lines: readonly string[], timeoutMs: number): Promise<Reply[]> {
    this.write(lines.map((line) => `${line}\r\n`).join(''));
    const replies: Reply[] = [];
    for (const _line of lines) replies.push(await this.readReply(timeoutMs));
    return replies;
  }

  /** Sends the message body (dot-stuffed, terminated) after a 354 and reads the final reply. */
  async sendBody(body: Buffer, timeoutMs: number): Promise<Reply> {
    // One write: the body and its final dot leave together (one TLS record run, no small tail).
    this.write(Buffer.concat(encodeDataBody(body)));
    return this.readReply(timeoutMs);
  }

  /** Runs the TLS handshake on this connection, after the server's 220 to STARTTLS. */
  async upgrade(options: ConnectionOptions, timeoutMs: number): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure: TLSSocket = tlsConnect({ ...options, socket: plain });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new SmtpConnectionError('tls', `TLS handshake timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', fail);
        resolve();
      });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        secure.destroy();
        reject(new SmtpConnectionError('tls', `TLS handshake failed: ${error.message}`));
      };
      secure.once('error', fail);
    }).catch((error: unknown) => {
      this.fail(error instanceof SmtpConnectionError ? error : new SmtpConnectionError('tls', String(error)));
      throw this.failure;
    });
    this.socket = secure;
    this.received = '';
    this.listen(secure);
  }

  /** An idle connection (in the pool) does not keep the process alive; a busy one does. */
  setIdle(idle: boolean): void {
    if (idle) this.socket.unref();
    else this.socket.ref();
  }

  /** Says QUIT (waiting briefly for the answer) and closes; never throws. */
  async quit(timeoutMs: number): Promise<void> {
    if (this.usable) await this.command('QUIT', timeoutMs).catch(() => undefined);
    this.close();
  }

  /** Closes at once. */
  close(): void {
    this.fail(new SmtpConnectionError('closed', 'connection closed by us'));
  }

  private write(data: string | Buffer): void {
    if (this.failure !== undefined) return;
    this.socket.write(data);
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', (error) => this.fail(new SmtpConnectionError('closed', error.message)));
    socket.once('close', () => this.fail(new SmtpConnectionError('closed', 'connection closed by peer')));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.toString('latin1');
    for (let end = this.received.indexOf('\n'); end >= 0; end = this.received.indexOf('\n')) {
      const line = this.received.slice(0, end).replace(/\r$/, '');
      this.received = this.received.slice(end + 1);
      this.takeLine(line);
    }
    if (this.received.length > MAX_PENDING_BYTES) {
      this.fail(new SmtpConnectionError('protocol', 'reply line too long'));
    }
  };

  private takeLine(line: string): void {
    const match = REPLY_LINE.exec(line);
    if (match === null) {
      this.fail(
        new SmtpConnectionError('protocol', `not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`),
      );
      return;
    }
    this.partial.push(line);
    if (match[2] === '-') return;
    const reply = parseReplyLines(this.partial);
    this.partial = [];
    if (this.waiter !== undefined) this.waiter(reply);
    else this.replies.push(reply);
  }

  /** Marks the connection broken (first reason wins), wakes a waiting reader and destroys the socket. */
  private fail(error: SmtpConnectionError): void {
    if (this.failure === undefined) this.failure = error;
    this.socket.destroy();
    this.waiter?.(this.failure);
  }
}

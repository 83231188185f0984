// One client connection to an LMTP server (RFC 2033): send a line, read a (multi-line) reply, send
// a dot-stuffed message. Replies are read strictly in order, which LMTP's per-recipient replies
// after DATA rely on.
import { connect, type Socket } from 'node:net';
import { describeError } from '../../core/errors.js';
import type { Reply } from '../../core/reply.js';
import type { LmtpEndpoint } from './config.js';

const REPLY_LINE = /^(\d{3})([ -])(.*)$/;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3}) /;
// A server that sends a reply line longer than this is not an LMTP server.
const MAX_LINE = 8192;
const CLOSE_LINGER_MS = 1000;

/** Where an endpoint is, for replies and logs. */
export function describeEndpoint(endpoint: LmtpEndpoint): string {
  return 'socketPath' in endpoint ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
}

/** Joins the lines of one reply; the enhanced code is taken from the first line and dropped from all. */
function toReply(code: number, lines: string[]): Reply {
  const enhanced = ENHANCED.exec(lines[0] ?? '')?.[1];
  const text = lines.map((line) =>
    enhanced !== undefined && line.startsWith(`${enhanced} `) ? line.slice(enhanced.length + 1) : line,
  );
  return enhanced === undefined ? { code, text: text.join('\n') } : { code, enhanced, text: text.join('\n') };
}

/**
 * The message as DATA sends it: a '.' at a line start doubled (RFC 5321 4.5.2), ending in CRLF,
 * then the terminating ".".
 */
export function dotStuffed(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  if (body[0] === 0x2e) parts.push(Buffer.from('.'));
  let start = 0;
  for (let at = body.indexOf('\n.'); at >= 0; at = body.indexOf('\n.', at + 2)) {
    parts.push(body.subarray(start, at + 2), Buffer.from('.'));
    start = at + 2;
  }
  parts.push(body.subarray(start));
  const endsWithCrlf = body.length >= 2 && body[body.length - 2] === 0x0d && body[body.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithCrlf || body.length === 0 ? '.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(parts);
}

export class LmtpConnection {
  private buffered = '';
  private lines: string[] = [];
  private readonly replies: Reply[] = [];
  private waiter: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
    private readonly where: string,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (error) => this.fail(new Error(`${where}: ${describeError(error)}`)));
    socket.on('close', () => this.fail(new Error(`${where}: connection closed`)));
  }

  /** Connects; resolves once the socket is open (the greeting is read with readReply). */
  static open(endpoint: LmtpEndpoint, timeoutMs: number): Promise<LmtpConnection> {
    const where = describeEndpoint(endpoint);
    return new Promise((resolve, reject) => {
      const socket =
        'socketPath' in endpoint ? connect(endpoint.socketPath) : connect(endpoint.port, endpoint.host);
      // Small commands after the body must not wait for the server's delayed ACK (Nagle).
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${where}: connect timed out`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${where}: ${describeError(error)}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new LmtpConnection(socket, timeoutMs, where));
      });
    });
  }

  /** The next reply; rejects on timeout (closing the connection) or once the connection is gone. */
  readReply(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`${this.where}: no reply in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Sends one command line and reads its reply. */
  command(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`, 'utf8');
    return this.readReply();
  }

  /** Sends the message after a 354; the caller then reads one reply per accepted recipient. */
  sendMessage(body: Buffer): void {
    this.socket.write(dotStuffed(body));
  }

  /** Still usable: not closed by either side, and nothing arrived unasked (a 421 while idle, say). */
  get reusable(): boolean {
    return this.failure === undefined && this.replies.length === 0 && this.lines.length === 0;
  }

  /** An idle connection must not keep the process alive; one in use must. */
  setIdle(idle: boolean): void {
    if (idle) this.socket.unref();
    else this.socket.ref();
  }

  /** Says QUIT without waiting for the answer, and closes. */
  close(): void {
    if (this.failure !== undefined) return;
    this.failure = new Error(`${this.where}: connection closed`);
    this.socket.end('QUIT\r\n');
    // The server closes after its 221; a server that does not is cut off.
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    for (let end = this.buffered.indexOf('\n'); end >= 0; end = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, end).replace(/\r$/, '');
      this.buffered = this.buffered.slice(end + 1);
      this.line(line);
    }
    if (this.buffered.length > MAX_LINE) this.fail(new Error(`${this.where}: reply line too long`));
  }

  private line(text: string): void {
    const match = REPLY_LINE.exec(text);
    if (match === null) {
      this.fail(new Error(`${this.where}: malformed reply ${JSON.stringify(text.slice(0, 100))}`));
      return;
    }
    this.lines.push(match[3] ?? '');
    if (match[2] === '-') return;
    const reply = toReply(Number(match[1]), this.lines);
    this.lines = [];
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter === undefined) this.replies.push(reply);
    else waiter.resolve(reply);
  }

  private fail(error: Error): void {
    if (this.failure === undefined) this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
    this.socket.destroy();
  }
}

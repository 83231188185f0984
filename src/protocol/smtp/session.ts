import type { Socket } from 'node:net';
import { describeError, isOutpostError } from '../../core/errors.js';
import { errorReply, formatReply, type Reply } from '../../core/reply.js';
import { runCommand } from './commands.js';
import type { DataReader, DataResult } from './data-reader.js';
import { LineBuffer, type LineResult } from './line-buffer.js';
import { splitCommand } from './parser.js';
import { ReplyWriter, type WireReply } from './reply-writer.js';
import { describeTls, type TlsUpgrader } from './starttls.js';
import type { SessionInfo, SmtpHandlers, SmtpServerOptions, Transaction } from './types.js';
import { type ListenerReplies, wireReply } from './wire.js';

/** What every session of one server shares. */
export interface ServerContext {
  options: SmtpServerOptions;
  handlers: SmtpHandlers;
  /** handlers.verbs keyed by upper-case verb, without prototype keys. */
  verbs: ReadonlyMap<string, (session: SessionInfo, args: string) => Promise<Reply>>;
  /** Present when TLS is configured. */
  tls: TlsUpgrader | undefined;
  /** Replies whose text is the same for every session, formatted once. */
  replies: ListenerReplies;
  isClosing(): boolean;
}

/** A handler's result, or the reply its failure turns into. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; reply: Reply };

type TimerKind = 'command' | 'data';

// Read-ahead kept while a handler runs before the socket is paused.
const HIGH_WATER = 64 * 1024;
// Pipelined commands handled in a row before yielding to other connections.
const YIELD_EVERY = 64;
// How long a closing connection may wait for the client's FIN before it is destroyed.
const LINGER_MS = 2000;

/**
 * One SMTP connection: socket I/O, the command loop and the state the verbs share. Commands run
 * strictly in order; read-ahead waits in a buffer; replies of one event-loop turn go out in one
 * write. Verb logic lives in the per-verb modules, which call back into this class.
 */
export class Session {
  readonly info: SessionInfo;
  transaction: Transaction | undefined;
  private socket: Socket;
  private readonly input = new LineBuffer();
  private reader: DataReader | undefined;
  private wake: (() => void) | undefined;
  private readonly writer: ReplyWriter;
  /** No more commands are taken; the socket is closing or closed. */
  private ended = false;
  private closed = false;
  private peerEnded = false;
  private paused = false;
  private idle = false;
  /** After a 5xx greeting only QUIT and NOOP are served (RFC 5321 3.1). */
  private rejecting = false;
  private errors = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerKind: TimerKind | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();

  constructor(
    socket: Socket,
    readonly context: ServerContext,
    id: string,
  ) {
    this.socket = socket;
    this.writer = new ReplyWriter(socket);
    this.info = {
      id,
      remoteAddress: plainAddress(socket.remoteAddress ?? ''),
      remotePort: socket.remotePort ?? 0,
      localAddress: plainAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      secure: false,
      esmtp: false,
      state: {},
      signal: this.closing.signal,
    };
    this.listen(socket);
  }

  get options(): SmtpServerOptions {
    return this.context.options;
  }

  get handlers(): SmtpHandlers {
    return this.context.handlers;
  }

  /** Runs the session to its end; never rejects. */
  async start(): Promise<void> {
    try {
      if (this.options.implicitTls && !(await this.upgradeToTls())) return;
      await this.greet();
      let inARow = 0;
      while (!this.ended) {
        const line = await this.readLine();
        if (line === undefined) break;
        await this.execute(line);
        if (++inARow >= YIELD_EVERY || this.socket.writableNeedDrain) {
          inARow = 0;
          await this.yieldToOthers();
        }
      }
    } catch (error) {
      this.options.logger?.error({ session: this.info.id, err: describeError(error) }, 'SMTP session failed');
      this.socket.destroy();
    }
  }

  /** Server shutdown: an idle session gets 421 now, a busy one on its next command. */
  shutdown(): void {
    if (this.idle) this.end(errorReply('SHUTTING_DOWN'));
  }

  /** Queues a reply; 2xx/4xx/5xx replies get an enhanced status code if they have none. */
  send(reply: Reply): void {
    this.write(wireReply(reply));
  }

  /** Queues a reply exactly as given (AUTH challenges). */
  sendAsIs(reply: Reply): void {
    this.write(formatReply(reply));
  }

  /** Queues a reply already formatted for the wire (context.replies). */
  sendPrepared(reply: WireReply): void {
    this.write(reply);
  }

  /** A protocol error: counted towards maxErrors, after which the session ends with 421. */
  fail(reply: Reply): void {
    this.errors++;
    if (this.errors >= this.options.maxErrors) this.end(errorReply('TOO_MANY_ERRORS'));
    else this.send(reply);
  }

  /** Sends a last reply (if any; 2xx/4xx/5xx get an enhanced code) and closes the connection. */
  end(reply?: Reply | WireReply): void {
    if (this.ended) return;
    this.ended = true;
    this.disarm();
    if (!this.closed) {
      this.writer.end(reply === undefined || isWire(reply) ? reply : wireReply(reply));
      this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    }
    this.wakeUp();
  }

  /**
   * QUIT: the 221, then the connection closes as soon as it is written, as Postfix's smtpd does;
   * waiting for the client's FIN (or its reset) would cost a shutdown, a read and an error object.
   * Under TLS the close_notify of a regular end is kept.
   */
  quit(reply: WireReply): void {
    if (this.ended) return;
    if (this.info.secure) {
      this.end(reply);
      return;
    }
    this.ended = true;
    this.disarm();
    if (!this.closed) this.writer.close(reply);
    this.wakeUp();
  }

  /** Forgets the mail transaction (RSET, EHLO, after DATA). */
  resetTransaction(): void {
    this.transaction = undefined;
  }

  /** Calls a handler; a throw becomes its catalogue reply, or 451 4.3.0 and a log line. */
  async call<T>(name: string, run: () => Promise<T>): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await run() };
    } catch (error) {
      if (isOutpostError(error)) {
        // The client gets the catalogue text; the detail is for the operator.
        if (error.detail !== undefined) {
          this.options.logger?.warn({
            session: this.info.id,
            handler: name,
            code: error.code,
            detail: error.detail,
          });
        }
        return { ok: false, reply: errorReply(error.code) };
      }
      this.options.logger?.error(
        { session: this.info.id, handler: name, err: describeError(error) },
        'SMTP handler failed',
      );
      return { ok: false, reply: errorReply('QUEUE_UNAVAILABLE') };
    }
  }

  /** The next command line (or AUTH response); undefined once the session is over. */
  async readLine(): Promise<LineResult | undefined> {
    for (;;) {
      if (this.ended) return undefined;
      const line = this.input.nextLine(this.options.maxCommandLine);
      if (line !== undefined) {
        if (this.timerKind === 'command') this.disarm();
        return line;
      }
      if (this.peerEnded) {
        this.end();
        return undefined;
      }
      if (this.context.isClosing()) {
        this.end(errorReply('SHUTTING_DOWN'));
        return undefined;
      }
      this.resume();
      if (this.timerKind !== 'command') this.arm('command', this.options.commandTimeoutMs);
      this.idle = true;
      await this.nextEvent();
      this.idle = false;
    }
  }

  /** Reads message content after 354 up to the terminator; undefined if the session ended first. */
  async readData(reader: DataReader): Promise<DataResult | undefined> {
    this.arm('data', this.options.dataTimeoutMs);
    const buffered = this.input.takeAll();
    const end = buffered.length > 0 ? reader.feed(buffered) : -1;
    if (end >= 0) {
      this.input.push(buffered.subarray(end));
    } else {
      this.reader = reader;
      this.resume();
      while (this.reader === reader && !this.ended && !this.peerEnded) await this.nextEvent();
      if (this.reader === reader) {
        this.reader = undefined;
        this.end();
        return undefined;
      }
    }
    this.disarm();
    return this.ended ? undefined : reader.result();
  }

  /**
   * Moves the session onto TLS over the current socket. Plaintext read ahead of the handshake is
   * dropped (it could be a command injected before STARTTLS, CVE-2011-0411), and so is everything
   * learnt before it, as RFC 3207 4.2 asks. False when the handshake failed and the session ended.
   */
  async upgradeToTls(): Promise<boolean> {
    const tls = this.context.tls;
    if (tls === undefined) return false;
    this.writer.flushNow();
    this.input.clear();
    const plain = this.socket;
    plain.off('data', this.onData);
    plain.off('end', this.onEnd);
    this.paused = false;
    const secure = await tls.upgrade(plain);
    if (secure === undefined) return false;
    this.socket = secure;
    this.writer.socket = secure;
    this.listen(secure);
    this.info.secure = true;
    this.info.tls = describeTls(secure, this.options.tls?.requestCert === true);
    delete this.info.helo;
    delete this.info.user;
    this.info.esmtp = false;
    this.resetTransaction();
    return true;
  }

  private async greet(): Promise<void> {
    const connect = this.handlers.connect;
    let custom: Reply | undefined;
    if (connect) {
      const outcome = await this.call('connect', () => connect(this.info));
      custom = outcome.ok ? outcome.value : outcome.reply;
    }
    if (this.ended) return;
    if (custom !== undefined && custom.code >= 500) {
      this.rejecting = true;
      this.sendAsIs(custom);
    } else if (custom !== undefined && custom.code >= 400) {
      this.end(custom);
    } else {
      this.sendPrepared(this.context.replies.greeting);
    }
  }

  private async execute(line: LineResult): Promise<void> {
    if (line.kind === 'too-long') return this.fail(errorReply('LINE_TOO_LONG'));
    if (line.kind === 'bad-utf8') return this.fail(errorReply('SYNTAX_ERROR', 'Invalid UTF-8 in command'));
    const { verb, args } = splitCommand(line.text);
    if (this.context.isClosing()) return this.end(errorReply('SHUTTING_DOWN'));
    if (this.rejecting && verb !== 'QUIT' && verb !== 'NOOP') return this.fail(errorReply('BAD_SEQUENCE'));
    await runCommand(this, verb, args);
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.ended) return;
    const reader = this.reader;
    if (reader !== undefined) {
      const end = reader.feed(chunk);
      if (end < 0) return;
      this.reader = undefined;
      this.input.push(chunk.subarray(end));
    } else {
      this.input.push(chunk);
      if (this.input.pending > HIGH_WATER && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
    }
    this.wakeUp();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    this.wakeUp();
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.ended = true;
    this.disarm();
    clearTimeout(this.lingerTimer);
    this.closing.abort(new Error('client disconnected'));
    this.wakeUp();
    try {
      this.handlers.close?.(this.info);
    } catch (error) {
      this.options.logger?.error(
        { session: this.info.id, err: describeError(error) },
        'SMTP close handler failed',
      );
    }
  };

  // Resets and aborted handshakes are the client's business; 'close' follows and cleans up.
  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onTimeout = (): void => {
    const kind = this.timerKind;
    this.timer = undefined;
    this.timerKind = undefined;
    if (kind !== undefined) this.end(errorReply('TIMEOUT'));
  };

  private arm(kind: TimerKind, ms: number): void {
    clearTimeout(this.timer);
    this.timerKind = kind;
    this.timer = setTimeout(this.onTimeout, ms);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerKind = undefined;
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  private nextEvent(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Lets other connections run, and waits while the client is not reading its replies. */
  private async yieldToOthers(): Promise<void> {
    this.writer.flushNow();
    if (this.socket.writableNeedDrain && !this.ended) {
      this.arm('command', this.options.commandTimeoutMs);
      const socket = this.socket;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
      if (this.timerKind === 'command') this.disarm();
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private write(reply: WireReply): void {
    if (!this.ended) this.writer.write(reply);
  }
}

function isWire(reply: Reply | WireReply): reply is WireReply {
  return typeof reply === 'string' || Buffer.isBuffer(reply);
}

/** An IPv4 client seen through a dual-stack socket ("::ffff:192.0.2.1") as plain IPv4. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

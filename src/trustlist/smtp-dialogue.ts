import { connect, type Socket } from 'node:net';

/**
 * A minimal SMTP client for admission probes: one command at a time, every line kept in a
 * transcript ("C: ..." sent, "S: ..." received) as evidence. It never sends DATA.
 */

/** One SMTP reply: the code and its text lines. */
export interface SmtpReply {
  code: number;
  lines: string[];
}

const MAX_LINE = 2048;
const MAX_TRANSCRIPT = 400;

export class SmtpDialogue {
  readonly transcript: string[] = [];
  private buffer = '';
  private replyLines: string[] = [];
  private waiter: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  /** Connects and returns the dialogue once the TCP connection is up (the greeting is read separately). */
  static open(host: string, port: number, timeoutMs: number): Promise<SmtpDialogue> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SmtpDialogue(socket, timeoutMs));
      });
    });
  }

  /** The next complete reply (the greeting first). */
  read(): Promise<SmtpReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
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
      this.deliver();
    });
  }

  /** Sends one command line and reads its reply. */
  command(line: string): Promise<SmtpReply> {
    this.note(`C: ${line}`);
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /** Says QUIT politely (ignoring the outcome) and closes. */
  async close(): Promise<void> {
    if (!this.failure && !this.socket.destroyed) {
      await this.command('QUIT').catch(() => undefined);
    }
    this.socket.destroy();
  }

  /** Adds a line of our own to the transcript. */
  note(line: string): void {
    if (this.transcript.length < MAX_TRANSCRIPT) this.transcript.push(line);
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\n'); end !== -1; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '').slice(0, MAX_LINE);
      this.buffer = this.buffer.slice(end + 1);
      this.note(`S: ${line}`);
      this.replyLines.push(line);
      // "250-..." continues a reply, "250 ..." (or a bare code) ends it.
      if (line.length <= 3 || line[3] !== '-') this.deliver();
    }
    if (this.buffer.length > MAX_LINE) this.fail(new Error('reply line too long'));
  }

  private deliver(): void {
    const last = this.replyLines.at(-1);
    if (!this.waiter || last === undefined || (last.length > 3 && last[3] === '-')) return;
    const code = Number(last.slice(0, 3));
    const lines = this.replyLines.map((line) => line.slice(4));
    this.replyLines = [];
    const { resolve, reject } = this.waiter;
    this.waiter = undefined;
    if (!Number.isInteger(code) || code < 200 || code > 599) reject(new Error(`not an SMTP reply: ${last}`));
    else resolve({ code, lines });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}

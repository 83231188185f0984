import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

/** One complete server reply; `lines` hold the text of each line without code and enhanced code. */
export interface SmtpReply {
  code: number;
  enhanced?: string;
  lines: string[];
  /** The lines joined with "\n". */
  text: string;
}

/** A message for sendMail; the body uses any line endings and is dot-stuffed for you. */
export interface TestMail {
  from: string;
  to: string[];
  body: string;
  /** EHLO name, or false to skip EHLO (the session already greeted). Default "client.test". */
  ehlo?: string | false;
  /** Appended to MAIL FROM:<from>, e.g. "SIZE=100 RET=HDRS". */
  mailParams?: string;
}

/** TLS client options for implicit TLS and STARTTLS: a client certificate, if the test needs one. */
export interface TestTlsOptions {
  key?: Buffer;
  cert?: Buffer;
}

/** A scripted SMTP client for tests: send a line, read exactly one (multi-line) reply. */
export interface SmtpTestClient {
  greeting: SmtpReply;
  /** True once TLS is up. */
  readonly secure: boolean;
  /** Sends one command line (CRLF added) and reads its reply. */
  send(line: string): Promise<SmtpReply>;
  /** Writes bytes as they are, for pipelining and hostile input. */
  sendRaw(data: string | Buffer): void;
  /** The next reply; rejects if the connection closes first or nothing comes within the reply timeout. */
  readReply(): Promise<SmtpReply>;
  /** STARTTLS, then the handshake when the reply is 220; `inject` is sent in plaintext right after the command. */
  startTls(options?: TestTlsOptions & { inject?: string }): Promise<SmtpReply>;
  /** EHLO (unless ehlo: false), MAIL, RCPTs, DATA, body; the reply to the final dot, or the first refusal. */
  sendMail(mail: TestMail): Promise<SmtpReply>;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

const REPLY_TIMEOUT_MS = 5000;
const REPLY_LINE = /^(\d{3})([ -]?)(.*)$/;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;

/**
 * Connects to an SMTP server and waits for its greeting. `tls` means implicit TLS (port 465 style);
 * `localAddress` picks the client's loopback address (e.g. 127.0.0.2) to appear as another host.
 */
export async function smtpConnect(
  port: number,
  host = '127.0.0.1',
  options?: { tls?: boolean; localAddress?: string } & TestTlsOptions,
): Promise<SmtpTestClient> {
  const tcp = netConnect({ port, host, localAddress: options?.localAddress });
  const socket = options?.tls
    ? tlsConnect({ socket: tcp, rejectUnauthorized: false, key: options.key, cert: options.cert })
    : tcp;
  await new Promise<void>((resolve, reject) => {
    socket.once(options?.tls ? 'secureConnect' : 'connect', resolve);
    socket.once('error', reject);
  });
  const client = new ScriptedClient(socket, options?.tls === true);
  client.greeting = await client.readReply();
  return client;
}

class ScriptedClient implements SmtpTestClient {
  greeting: SmtpReply = { code: 0, lines: [], text: '' };
  secure: boolean;
  readonly closed: Promise<void>;
  private socket: Socket;
  private received = '';
  private partial: string[] = [];
  private readonly replies: SmtpReply[] = [];
  /** Readers waiting for a reply, first come first served. */
  private readonly waiters: ((reply: SmtpReply | undefined) => void)[] = [];
  private isClosed = false;

  constructor(socket: Socket, secure: boolean) {
    this.socket = socket;
    this.secure = secure;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.deliver(undefined);
        resolve();
      });
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', this.onData);
  }

  send(line: string): Promise<SmtpReply> {
    this.sendRaw(`${line}\r\n`);
    return this.readReply();
  }

  sendRaw(data: string | Buffer): void {
    if (!this.isClosed) this.socket.write(data);
  }

  readReply(): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.isClosed) return Promise.reject(new Error('connection closed before a reply'));
    return new Promise((resolve, reject) => {
      const waiter = (reply: SmtpReply | undefined): void => {
        clearTimeout(timer);
        if (reply === undefined) reject(new Error('connection closed before a reply'));
        else resolve(reply);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.waiters.push(waiter);
    });
  }

  async startTls(options?: TestTlsOptions & { inject?: string }): Promise<SmtpReply> {
    this.sendRaw(`STARTTLS\r\n${options?.inject ?? ''}`);
    const reply = await this.readReply();
    if (reply.code !== 220) return reply;
    const plain = this.socket;
    plain.off('data', this.onData);
    this.received = '';
    const secure: TLSSocket = tlsConnect({
      socket: plain,
      rejectUnauthorized: false,
      key: options?.key,
      cert: options?.cert,
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    secure.on('error', () => secure.destroy());
    secure.on('data', this.onData);
    this.socket = secure;
    this.secure = true;
    return reply;
  }

  async sendMail(mail: TestMail): Promise<SmtpReply> {
    if (mail.ehlo !== false) {
      const ehlo = await this.send(`EHLO ${mail.ehlo ?? 'client.test'}`);
      if (ehlo.code !== 250) return ehlo;
    }
    const params = mail.mailParams ? ` ${mail.mailParams}` : '';
    const from = await this.send(`MAIL FROM:<${mail.from}>${params}`);
    if (from.code !== 250) return from;
    let accepted = 0;
    let last = from;
    for (const recipient of mail.to) {
      last = await this.send(`RCPT TO:<${recipient}>`);
      if (last.code === 250 || last.code === 251) accepted++;
    }
    if (accepted === 0) return last;
    const data = await this.send('DATA');
    if (data.code !== 354) return data;
    this.sendRaw(encodeBody(mail.body));
    return this.readReply();
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.toString('utf8');
    for (;;) {
      const end = this.received.indexOf('\n');
      if (end < 0) return;
      const line = this.received.slice(0, end).replace(/\r$/, '');
      this.received = this.received.slice(end + 1);
      this.takeLine(line);
    }
  };

  private takeLine(line: string): void {
    const match = REPLY_LINE.exec(line);
    // Not a reply line: surface it as a reply with code 0 so the test's assertion shows it.
    if (match === null) {
      this.deliver({ code: 0, lines: [line], text: line });
      return;
    }
    this.partial.push(line);
    if (match[2] === '-') return;
    const lines = this.partial;
    this.partial = [];
    this.deliver(parseReply(lines));
  }

  /** Hands a reply to the first waiting reader, or keeps it; undefined (closed) wakes every reader. */
  private deliver(reply: SmtpReply | undefined): void {
    if (reply === undefined) {
      for (const waiter of this.waiters.splice(0)) waiter(undefined);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(reply);
    else this.replies.push(reply);
  }
}

/** Parses the wire lines of one reply. */
function parseReply(wireLines: string[]): SmtpReply {
  const texts = wireLines.map((line) => line.slice(4));
  const last = texts[texts.length - 1] ?? '';
  const enhanced = ENHANCED.exec(last)?.[1];
  const lines = enhanced === undefined ? texts : texts.map((text) => text.replace(ENHANCED, ''));
  const reply: SmtpReply = { code: Number(wireLines[0]?.slice(0, 3)), lines, text: lines.join('\n') };
  if (enhanced !== undefined) reply.enhanced = enhanced;
  return reply;
}

/** CRLF line endings, dot-stuffing and the terminating dot. */
export function encodeBody(body: string): string {
  let text = body.replace(/\r?\n/g, '\r\n');
  if (text !== '' && !text.endsWith('\r\n')) text += '\r\n';
  return `${text.replace(/^\./gm, '..')}.\r\n`;
}

/**
 * A submission session ready for MAIL: EHLO, STARTTLS, EHLO again, AUTH PLAIN as `user`. Each step
 * must get its success reply (the assertion names the reply otherwise).
 */
export async function submissionSession(
  port: number,
  host: string,
  credentials: { user: string; password: string; ehlo?: string },
): Promise<SmtpTestClient> {
  const client = await smtpConnect(port, host);
  const ehlo = `EHLO ${credentials.ehlo ?? 'client.test'}`;
  assert.equal((await client.send(ehlo)).code, 250);
  assert.equal((await client.startTls()).code, 220);
  assert.equal((await client.send(ehlo)).code, 250);
  const plain = Buffer.from(`\0${credentials.user}\0${credentials.password}`).toString('base64');
  const auth = await client.send(`AUTH PLAIN ${plain}`);
  assert.equal(auth.code, 235, auth.text);
  return client;
}

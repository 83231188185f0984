import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { describeError } from '../../core/errors.js';
import { errorReply, formatReply, type Reply } from '../../core/reply.js';
import { plainAddress, type ServerContext, Session } from './session.js';
import { TlsUpgrader } from './starttls.js';
import type { SessionInfo, SmtpHandlers, SmtpServerOptions } from './types.js';
import { ListenerReplies } from './wire.js';

/** A listening SMTP server built on the protocol layer. */
export interface SmtpServer {
  listen(port: number, host: string): Promise<{ address: string; port: number }>;
  /**
   * Stops accepting (new connections get 421 4.3.2). Idle sessions get 421 at once; busy ones
   * finish their current command (an in-flight DATA and its handler included) and get 421 on the
   * next. Whatever is still open after timeoutMs (default 30 s) is destroyed.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Open sessions (connections refused with 421 are not counted). */
  connections(): number;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
// A refused connection is closed after its 421; this bounds how long we wait for the client's FIN.
const REFUSE_LINGER_MS = 2000;
const VERB_NAME = /^[A-Z][A-Z0-9-]*$/;

/** Creates outpost's SMTP server: the protocol, limits and TLS here, every decision in the handlers. */
export function createSmtpServer(options: SmtpServerOptions, handlers: SmtpHandlers): SmtpServer {
  const tls = options.tls === undefined ? undefined : new TlsUpgrader(options.tls, options.commandTimeoutMs);
  if (options.implicitTls === true && tls === undefined) {
    throw new Error('implicitTls needs tls.key and tls.cert');
  }
  let closing = false;
  const context: ServerContext = {
    options,
    handlers,
    verbs: extensionVerbs(handlers),
    tls,
    replies: new ListenerReplies(options),
    isClosing: () => closing,
  };
  const sessions = new Set<Session>();
  const sockets = new Set<Socket>();
  const perIp = new Map<string, number>();
  const idPrefix = randomBytes(4).toString('hex');
  let sessionCount = 0;
  let closed: Promise<void> | undefined;
  let onIdle: (() => void) | undefined;

  const server = createServer({ allowHalfOpen: true }, accept);
  server.on('error', (error) => options.logger?.warn({ err: describeError(error) }, 'SMTP listener error'));

  function accept(socket: Socket): void {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    // No address: the client reset the connection before we got to it.
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const ip = plainAddress(socket.remoteAddress);
    const refusal = admission(ip);
    if (refusal === undefined) startSession(socket, ip);
    else refuse(socket, refusal);
  }

  /** Why a new connection from this IP is not served now, if it is not. */
  function admission(ip: string): Reply | undefined {
    if (closing) return errorReply('SHUTTING_DOWN');
    const full =
      sessions.size >= options.maxConnections || (perIp.get(ip) ?? 0) >= options.maxConnectionsPerIp;
    return full ? errorReply('TOO_MANY_CONNECTIONS') : undefined;
  }

  function startSession(socket: Socket, ip: string): void {
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    sessionCount++;
    const session = new Session(socket, context, `${idPrefix}${sessionCount.toString(36)}`);
    sessions.add(session);
    socket.once('close', () => {
      sessions.delete(session);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left > 0) perIp.set(ip, left);
      else perIp.delete(ip);
      if (sessions.size === 0) onIdle?.();
    });
    void session.start();
  }

  /** Answers a connection we will not serve with one reply (after the handshake under implicit TLS). */
  function refuse(socket: Socket, reply: Reply): void {
    const linger = setTimeout(() => socket.destroy(), REFUSE_LINGER_MS).unref();
    socket.once('close', () => clearTimeout(linger));
    if (options.implicitTls !== true || tls === undefined) {
      socket.resume();
      socket.end(formatReply(reply));
      return;
    }
    void tls.upgrade(socket).then((secure) => {
      secure?.on('error', () => secure.destroy());
      secure?.end(formatReply(reply));
    });
  }

  /** Waits for the sessions to end (at most timeoutMs), then closes the listener and what is left. */
  async function finishClose(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, timeoutMs);
      onIdle = () => {
        clearTimeout(deadline);
        resolve();
      };
      for (const session of sessions) session.shutdown();
      if (sessions.size === 0) onIdle();
    });
    onIdle = undefined;
    const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Sockets leave the set on 'close', so every socket still in it will emit one.
    const socketsClosed = [...sockets].map(
      (socket) => new Promise((resolve) => socket.once('close', resolve)),
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all([listenerClosed, ...socketsClosed]);
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const bound = server.address();
          if (bound === null || typeof bound === 'string')
            reject(new Error(`unexpected listen address ${bound}`));
          else resolve({ address: bound.address, port: bound.port });
        });
      });
    },
    close(closeOptions) {
      if (closed !== undefined) return closed;
      closing = true;
      closed = finishClose(closeOptions?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
      return closed;
    },
    connections: () => sessions.size,
  };
}

/** handlers.verbs by upper-case name; names must be SMTP keywords. */
function extensionVerbs(
  handlers: SmtpHandlers,
): Map<string, (session: SessionInfo, args: string) => Promise<Reply>> {
  const verbs = new Map<string, (session: SessionInfo, args: string) => Promise<Reply>>();
  for (const [name, run] of Object.entries(handlers.verbs ?? {})) {
    const verb = name.toUpperCase();
    if (!VERB_NAME.test(verb)) throw new Error(`extension verb ${name} is not an SMTP keyword`);
    verbs.set(verb, run);
  }
  return verbs;
}

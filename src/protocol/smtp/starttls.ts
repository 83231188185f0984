import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { errorReply } from '../../core/reply.js';
import { Replies } from './replies.js';
import type { Session } from './session.js';
import type { SessionInfo, SmtpServerOptions } from './types.js';

/** STARTTLS (RFC 3207): 220, then the handshake; the session starts over on the secure channel. */
export async function handleStartTls(session: Session, args: string): Promise<void> {
  if (session.context.tls === undefined) return session.fail(Replies.NOT_IMPLEMENTED);
  if (session.info.secure) return session.fail(errorReply('BAD_SEQUENCE', 'TLS already active'));
  if (args.trim() !== '') return session.fail(errorReply('PARAM_SYNTAX', 'STARTTLS takes no arguments'));
  session.send(Replies.READY_FOR_TLS);
  await session.upgradeToTls();
}

/**
 * Runs the server side of TLS handshakes on accepted sockets (implicit TLS and STARTTLS) through one
 * tls.Server that never listens: sockets are handed to it as connections. Going through tls.Server
 * rather than a bare TLSSocket is what makes Node verify a requested client certificate against
 * the CA and CRL and report it in `authorized`.
 */
export class TlsUpgrader {
  private readonly server: Server;
  private readonly pending = new Map<string, (socket: TLSSocket) => void>();

  constructor(tls: NonNullable<SmtpServerOptions['tls']>, handshakeTimeoutMs: number) {
    this.server = createServer({
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      crl: tls.crl,
      requestCert: tls.requestCert === true,
      // Verification results are reported in SessionInfo.tls; the listener profile decides what they mean.
      rejectUnauthorized: false,
      handshakeTimeout: handshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      const key = connectionKey(socket);
      const deliver = this.pending.get(key);
      this.pending.delete(key);
      if (deliver === undefined) socket.destroy();
      else deliver(socket);
    });
    // A failed or timed-out handshake destroys the socket; its 'close' settles upgrade().
    this.server.on('tlsClientError', (_error, socket) => socket.destroy());
  }

  /** Starts TLS on an accepted socket: the TLS socket once secure, or undefined if the handshake failed. */
  upgrade(socket: Socket): Promise<TLSSocket | undefined> {
    const key = connectionKey(socket);
    return new Promise((resolve) => {
      const onClose = (): void => {
        this.pending.delete(key);
        resolve(undefined);
      };
      socket.once('close', onClose);
      this.pending.set(key, (secure) => {
        socket.off('close', onClose);
        resolve(secure);
      });
      this.server.emit('connection', socket);
    });
  }
}

/** The TCP four-tuple, the same on a socket and on the TLS socket over it; unique among live connections. */
function connectionKey(socket: Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}

/** The TLS facts handlers may look at: protocol, cipher, client certificate and its verification. */
export function describeTls(socket: TLSSocket, requestCert: boolean): NonNullable<SessionInfo['tls']> {
  const info: NonNullable<SessionInfo['tls']> = {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher().name,
    authorized: socket.authorized,
  };
  if (requestCert) {
    const certificate = socket.getPeerCertificate(true);
    // An empty object means the client sent no certificate.
    if (Object.keys(certificate).length > 0) info.peerCertificate = certificate;
  }
  return info;
}

import { createSocket, type SocketOptions, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { FrameReader, frameMessage } from './framing.js';

/** Where to listen and how to answer a query that comes over TCP. */
export interface DnsListenerOptions {
  /** An IP address (v4 or v6); a name is refused. */
  address: string;
  /** Port for both UDP and TCP; 0 picks one free for both. */
  port: number;
  /** Answers one query (the message without its length prefix); undefined sends nothing. */
  answerTcp(message: Buffer): Buffer | undefined;
  /** Replaces dgram's name lookup before each UDP send (a hot path whose peers are IP literals). */
  udpLookup?: SocketOptions['lookup'];
}

/** A UDP socket and a TCP listener bound to the same address and port. */
export interface DnsListeners {
  /** The caller answers datagrams itself ('message' events). */
  udp: UdpSocket;
  tcp: Server;
  port: number;
  /** Refuses new connections, drops open ones and closes both sockets. */
  close(): Promise<void>;
}

/** Idle TCP connections are closed after this long (RFC 7766 suggests seconds, not minutes). */
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 256;
/** With port 0, how often to pick a new UDP port when its TCP twin is taken. */
const EPHEMERAL_PORT_TRIES = 20;

function bindUdp(options: DnsListenerOptions, family: 4 | 6, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const type = family === 6 ? 'udp6' : 'udp4';
    const socket = createSocket(options.udpLookup ? { type, lookup: options.udpLookup } : { type });
    socket.once('error', reject);
    socket.bind({ address: options.address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function closeTcp(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Binds UDP and then TCP on the same port (with port 0 retrying until a port is free for both) and
 * serves TCP with RFC 7766 framing, several queries per connection, idle and connection limits.
 */
export async function startDnsListeners(options: DnsListenerOptions): Promise<DnsListeners> {
  const family = isIP(options.address);
  if (family !== 4 && family !== 6)
    throw new Error(`DNS listen address must be an IP address: '${options.address}'`);
  const connections = new Set<Socket>();
  let closed = false;

  const serveConnection = (socket: Socket): void => {
    if (closed || connections.size >= MAX_TCP_CONNECTIONS) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy()); // resets by clients are normal
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const response = options.answerTcp(message);
        if (response && !socket.destroyed) socket.write(frameMessage(response));
      }
    });
  };

  for (let attempt = 1; ; attempt++) {
    const udp = await bindUdp(options, family, options.port);
    const tcp = createServer({ noDelay: true }, serveConnection);
    try {
      await listenTcp(tcp, options.address, udp.address().port);
    } catch (error) {
      await closeUdp(udp);
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (options.port !== 0 || !inUse || attempt >= EPHEMERAL_PORT_TRIES) throw error;
      continue;
    }
    return {
      udp,
      tcp,
      port: udp.address().port,
      async close() {
        if (closed) return;
        closed = true;
        for (const socket of connections) socket.destroy();
        await Promise.all([closeUdp(udp), closeTcp(tcp)]);
      },
    };
  }
}

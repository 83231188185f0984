import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { FrameReader, frameMessage } from './framing.js';
import { answerQuery, serverFailure, type Transport } from './respond.js';
import type { ZoneSet } from './zone.js';

/** Where to listen and what to serve. */
export interface DnsServerOptions {
  /** IP address to listen on (default 127.0.0.1). */
  address?: string;
  /** Port for both UDP and TCP (default 53; 0 picks a port free for both). */
  port?: number;
  zones: ZoneSet;
  /** Told about socket errors and internal failures; bad queries are counted, not logged. */
  logger?: { warn(obj: object, msg?: string): void };
}

/** Counters since the server started. */
export interface DnsServerStats {
  udpQueries: number;
  tcpQueries: number;
  /** Messages answered with FORMERR or dropped (too short, or responses sent to us). */
  malformed: number;
}

/** A running authoritative DNS server. */
export interface DnsServer {
  address: string;
  port: number;
  /** The data served; changes to it are visible to the next query. */
  zones: ZoneSet;
  stats(): DnsServerStats;
  close(): Promise<void>;
}

/** Idle TCP connections are closed after this long (RFC 7766 suggests seconds, not minutes). */
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 256;
/** With port 0, how often to pick a new UDP port when its TCP twin is taken. */
const EPHEMERAL_PORT_TRIES = 20;

const silentLogger = { warn(): void {} };

function bindUdp(family: 4 | 6, address: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
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

/** Binds UDP and then TCP on the same port; with port 0 retries until a port is free for both. */
async function bindBoth(
  family: 4 | 6,
  address: string,
  port: number,
  makeTcp: () => Server,
): Promise<{ udp: UdpSocket; tcp: Server }> {
  for (let attempt = 1; ; attempt++) {
    const udp = await bindUdp(family, address, port);
    const tcp = makeTcp();
    try {
      await listenTcp(tcp, address, udp.address().port);
      return { udp, tcp };
    } catch (error) {
      await closeUdp(udp);
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !inUse || attempt >= EPHEMERAL_PORT_TRIES) throw error;
    }
  }
}

/**
 * Starts an authoritative DNS server on UDP and TCP (RFC 1035, RFC 7766 framing with several
 * queries per connection). Answers only for `zones`, REFUSED otherwise; never crashes on input.
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const address = options.address ?? '127.0.0.1';
  const family = isIP(address);
  if (family !== 4 && family !== 6) throw new Error(`DNS server address must be an IP address: '${address}'`);
  const logger = options.logger ?? silentLogger;
  const zones = options.zones;
  const counters: DnsServerStats = { udpQueries: 0, tcpQueries: 0, malformed: 0 };
  const connections = new Set<Socket>();
  let closed = false;

  const respond = (message: Buffer, transport: Transport): Buffer | undefined => {
    if (transport === 'udp') counters.udpQueries++;
    else counters.tcpQueries++;
    try {
      const result = answerQuery(message, zones, transport);
      if (result.malformed) counters.malformed++;
      return result.response;
    } catch (error) {
      logger.warn({ err: error, transport }, 'dns: failed to answer a query');
      return serverFailure(message);
    }
  };

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
        const response = respond(message, 'tcp');
        if (response && !socket.destroyed) socket.write(frameMessage(response));
      }
    });
  };

  const makeTcp = (): Server => createServer({ noDelay: true }, serveConnection);
  const { udp, tcp } = await bindBoth(family, address, options.port ?? 53, makeTcp);
  tcp.on('error', (error) => logger.warn({ err: error }, 'dns: TCP listener error'));
  udp.on('error', (error) => logger.warn({ err: error }, 'dns: UDP socket error'));
  udp.on('message', (message, peer) => {
    const response = respond(message, 'udp');
    if (!response || closed) return;
    udp.send(response, peer.port, peer.address, (error) => {
      if (error) logger.warn({ err: error, peer: peer.address }, 'dns: UDP send failed');
    });
  });

  return {
    address,
    port: udp.address().port,
    zones,
    stats: () => ({ ...counters }),
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of connections) socket.destroy();
      await Promise.all([closeUdp(udp), closeTcp(tcp)]);
    },
  };
}

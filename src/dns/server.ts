import { startDnsListeners } from './listeners.js';
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

const silentLogger = { warn(): void {} };

/**
 * Starts an authoritative DNS server on UDP and TCP (RFC 1035, RFC 7766 framing with several
 * queries per connection). Answers only for `zones`, REFUSED otherwise; never crashes on input.
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const address = options.address ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const zones = options.zones;
  const counters: DnsServerStats = { udpQueries: 0, tcpQueries: 0, malformed: 0 };
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

  const listeners = await startDnsListeners({
    address,
    port: options.port ?? 53,
    answerTcp: (message) => respond(message, 'tcp'),
  });
  const { udp, tcp } = listeners;
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
    port: listeners.port,
    zones,
    stats: () => ({ ...counters }),
    async close() {
      closed = true;
      await listeners.close();
    },
  };
}

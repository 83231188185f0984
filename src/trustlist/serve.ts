import { type ChildProcess, fork } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsListeners } from '../dns/listeners.js';
import { normalizeName } from '../dns/names.js';
import { answerQuery, serverFailure } from '../dns/respond.js';
import { FastResponder } from './codec.js';
import { ServedList, type ZoneSettings } from './served.js';
import type { TrustListStore } from './store.js';
import { TrustListZones } from './zones.js';

/** Where and how to serve a list. */
export interface TrustListServerOptions {
  store: TrustListStore;
  zone: string;
  /** IP address for UDP and TCP (default 127.0.0.1). */
  address?: string;
  /** Port for both (default 53; 0 picks one free for both). */
  port?: number;
  ttl?: number;
  negativeTtl?: number;
  nameservers?: string[];
  hostmaster?: string;
  /** How often to look for changes made by other processes (ms; default 1000; 0 never). */
  pollMs?: number;
  /** Extra processes answering UDP on the same socket (default 0: this process alone). */
  udpWorkers?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

/** A running trust list server. */
export interface TrustListServer {
  address: string;
  port: number;
  zone: string;
  /** The list version served (the SOA serial). */
  serial(): number;
  /** Rebuilds the served list from the store now (the CLI calls it on SIGHUP). */
  reload(): void;
  /** Queries so far: UDP ones answered by the hand codec or by dns-packet, and TCP ones. */
  stats(): { udpFast: number; udpGeneral: number; tcpQueries: number };
  close(): Promise<void>;
}

const silentLogger = { warn(): void {} };

/** Settings with defaults filled in. */
export function zoneSettings(options: Partial<ZoneSettings> & { zone: string }): ZoneSettings {
  const zone = normalizeName(options.zone);
  if (zone === '') throw new Error('a trust list needs a zone name');
  return {
    zone,
    ttl: options.ttl ?? 300,
    negativeTtl: options.negativeTtl ?? 60,
    nameservers: options.nameservers ?? [],
    hostmaster: options.hostmaster ?? `hostmaster.${zone}`,
  };
}

/**
 * Skips the DNS lookup dgram does before each send: the peer is always an IP literal, and an
 * asynchronous lookup per datagram costs a tick the hot path cannot afford.
 */
function literalLookup(
  address: string,
  _family: unknown,
  callback: (error: Error | null, address: string, family: number) => void,
): void {
  callback(null, address, isIP(address));
}

/** The current version of a list, in both encodings. */
export class ListState {
  responder: FastResponder;
  readonly zones: TrustListZones;
  /** UDP answers by path: the hand codec, or dns-packet. */
  readonly answered = { fast: 0, general: 0 };
  private version = -1;

  constructor(
    private readonly store: TrustListStore,
    private readonly settings: ZoneSettings,
  ) {
    const list = this.build();
    this.responder = new FastResponder(list);
    this.zones = new TrustListZones(list);
  }

  get serial(): number {
    return this.version;
  }

  private build(): ServedList {
    this.version = this.store.serial();
    return new ServedList(this.settings, this.version, this.store.servedEntries());
  }

  /** Rebuilds from the store and swaps both paths to the new version at once. */
  reload(): void {
    const list = this.build();
    this.responder = new FastResponder(list);
    this.zones.update(list);
  }

  /** Answers one UDP datagram: the hot path when it can, else the general path. */
  answerUdp(message: Buffer): Buffer | undefined {
    const fast = this.responder.respond(message);
    if (fast) {
      this.answered.fast++;
      return fast;
    }
    this.answered.general++;
    try {
      return answerQuery(message, this.zones, 'udp').response;
    } catch {
      return serverFailure(message);
    }
  }
}

/** The worker module beside this one, and how to run it (TypeScript sources need tsx's loader). */
function workerLaunch(): { module: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const module = path.join(path.dirname(here), `udp-worker${path.extname(here)}`);
  const loaded = process.execArgv.some((arg) => arg.includes('tsx'));
  const execArgv =
    path.extname(here) === '.ts' && !loaded
      ? [...process.execArgv, '--import', import.meta.resolve('tsx')]
      : process.execArgv;
  return { module, execArgv };
}

const WORKER_START_MS = 60_000;

/** Forks a UDP worker, hands it the socket, and waits until it answers (its list is built). */
function startWorker(
  file: string,
  settings: ZoneSettings,
  udp: UdpSocket,
  logger: { warn(obj: object, msg?: string): void },
): Promise<ChildProcess> {
  const launch = workerLaunch();
  const child = fork(launch.module, [], {
    execArgv: launch.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('UDP worker did not start in time')), WORKER_START_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`UDP worker exited (${code}) before it was ready`)));
    child.once('message', () => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGTERM') logger.warn({ code, signal }, 'trustlist: a UDP worker exited');
      });
      resolve(child);
    });
    child.send({ kind: 'start', file, settings }, udp);
  });
}

/**
 * Serves a trust list over UDP (hand codec, dns-packet for the rest) and TCP (dns-packet). Each
 * change through `store` is served at once; changes by other processes within pollMs.
 */
export async function startTrustListServer(options: TrustListServerOptions): Promise<TrustListServer> {
  const address = options.address ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const settings = zoneSettings({ ...options, zone: options.zone });
  const state = new ListState(options.store, settings);
  const counters = { tcpQueries: 0 };
  const workers: ChildProcess[] = [];
  let closed = false;

  const answerTcp = (message: Buffer): Buffer | undefined => {
    counters.tcpQueries++;
    try {
      return answerQuery(message, state.zones, 'tcp').response;
    } catch (error) {
      logger.warn({ err: error }, 'trustlist: failed to answer a TCP query');
      return serverFailure(message);
    }
  };

  const listeners = await startDnsListeners({
    address,
    port: options.port ?? 53,
    answerTcp,
    udpLookup: literalLookup,
  });
  const { udp, tcp } = listeners;
  tcp.on('error', (error) => logger.warn({ err: error }, 'trustlist: TCP listener error'));
  udp.on('error', (error) => logger.warn({ err: error }, 'trustlist: UDP socket error'));
  udp.on('message', (message, peer) => {
    const response = state.answerUdp(message);
    if (response && !closed) udp.send(response, peer.port, peer.address);
  });

  try {
    for (let i = 0; i < (options.udpWorkers ?? 0); i++)
      workers.push(await startWorker(options.store.file(), settings, udp, logger));
  } catch (error) {
    for (const child of workers) child.kill('SIGTERM');
    await listeners.close();
    throw error;
  }

  const reload = (): void => {
    try {
      state.reload();
      for (const child of workers) if (child.connected) child.send({ kind: 'reload' });
    } catch (error) {
      logger.warn({ err: error }, 'trustlist: reload failed; still serving the previous version');
    }
  };
  let pending = false;
  const unsubscribe = options.store.onChange(() => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (!closed) reload();
    });
  });
  let seenVersion = options.store.dataVersion();
  const poll =
    (options.pollMs ?? 1000) > 0
      ? setInterval(() => {
          try {
            const version = options.store.dataVersion();
            if (version === seenVersion) return;
            seenVersion = version;
            reload();
          } catch (error) {
            logger.warn({ err: error }, 'trustlist: cannot check the database for changes');
          }
        }, options.pollMs ?? 1000)
      : undefined;
  poll?.unref();

  return {
    address,
    port: listeners.port,
    zone: settings.zone,
    serial: () => state.serial,
    reload,
    stats: () => ({ udpFast: state.answered.fast, udpGeneral: state.answered.general, ...counters }),
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      if (poll) clearInterval(poll);
      for (const child of workers) child.kill('SIGTERM');
      await listeners.close();
    },
  };
}

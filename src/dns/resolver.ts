import { isIP } from 'node:net';
import { interpretReply, type Outcome } from './answers.js';
import { TtlCache } from './cache.js';
import { DnsLookupError, negativeAnswer, syscallFor } from './errors.js';
import { nameProblem, normalizeName, reverseName } from './names.js';
import { systemNameServers } from './system.js';
import type { MxRecord, RecordType, Resolver, SrvRecord } from './types.js';
import { exchange, type NameServer, parseNameServer, type WireOptions } from './wire.js';

/** How a resolver talks to the network and how much it remembers. */
export interface ResolverOptions {
  /** 'ip:port' or '[ipv6]:port'; default: the nameservers of /etc/resolv.conf, else 127.0.0.1:53. */
  servers?: string[];
  /** Wait per attempt, in milliseconds (default 2000). */
  timeoutMs?: number;
  /** Rounds over all servers before giving up with ETIMEOUT (default 2). */
  tries?: number;
  /** Cached questions at most, positive and negative together (default 10000; 0 disables the cache). */
  cacheSize?: number;
  /** CNAMEs followed for one lookup before failing with ESERVFAIL (default 8). */
  maxCnameChain?: number;
  /** Clock in milliseconds, for tests of expiry (default Date.now). */
  now?: () => number;
}

/** Counters since the resolver was made (or last cleared). */
export interface ResolverStats {
  /** Questions answered from the cache. */
  hits: number;
  /** Questions not in the cache (each one either asked the network or joined a query in flight). */
  misses: number;
  /** Questions sent to the network. */
  queries: number;
  /** Entries in the cache now. */
  entries: number;
}

/** A Resolver with a shared cache, per-message budgeted views, counters and a way to forget. */
export interface CachingResolver extends Resolver {
  /** A view sharing the cache that may make at most `maxLookups` uncached lookups (then EBUDGET). */
  withBudget(maxLookups: number): Resolver;
  stats(): ResolverStats;
  /** Forgets every cached answer and resets the counters. */
  clear(): void;
}

const DEFAULTS = { timeoutMs: 2000, tries: 2, cacheSize: 10_000, maxCnameChain: 8 };

/** Counts the uncached lookups of one view. */
class Budget {
  constructor(private remaining: number) {}

  spend(name: string, type: RecordType): void {
    if (this.remaining <= 0)
      throw new DnsLookupError('EBUDGET', name, syscallFor(type), 'DNS lookup budget spent');
    this.remaining--;
  }
}

/** The shared part: cache, queries in flight, counters. */
class LookupEngine {
  private readonly cache: TtlCache<Outcome>;
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  readonly counters = { hits: 0, misses: 0, queries: 0 };

  constructor(
    private readonly servers: readonly NameServer[],
    private readonly wire: WireOptions,
    readonly maxCnameChain: number,
    private readonly now: () => number,
    cacheSize: number,
  ) {
    this.cache = new TtlCache(cacheSize);
  }

  /** The outcome for one question (normal-form name): from the cache, a query in flight, or the network. */
  lookup(name: string, type: RecordType, budget: Budget | undefined): Promise<Outcome> {
    const key = `${type}:${name}`;
    const cached = this.cache.get(key, this.now());
    if (cached) {
      this.counters.hits++;
      return Promise.resolve(cached);
    }
    budget?.spend(name, type);
    this.counters.misses++;
    let pending = this.inFlight.get(key);
    if (!pending) {
      this.counters.queries++;
      pending = this.fetch(key, name, type).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async fetch(key: string, name: string, type: RecordType): Promise<Outcome> {
    const reply = await exchange(this.servers, { name, type }, this.wire);
    const { outcome, ttl } = interpretReply(reply.packet, reply.rcode, name, type, this.maxCnameChain);
    const now = this.now();
    this.cache.set(key, outcome, now + ttl * 1000, now);
    return outcome;
  }

  stats(): ResolverStats {
    return { ...this.counters, entries: this.cache.size };
  }

  clear(): void {
    this.cache.clear();
    this.counters.hits = 0;
    this.counters.misses = 0;
    this.counters.queries = 0;
  }
}

/** The error as seen by the caller: their name and call, whatever link of the chain failed. */
function asCallersError(error: unknown, hostname: string, syscall: string, at: string): unknown {
  if (!(error instanceof DnsLookupError)) return error;
  const detail =
    at === normalizeName(hostname) ? error.detail : `at ${at}${error.detail ? `: ${error.detail}` : ''}`;
  return new DnsLookupError(error.code, hostname, syscall, detail);
}

/** The Resolver methods over an engine; methods are bound, so `resolver.resolve` can be passed around. */
class ResolverView implements Resolver {
  constructor(
    protected readonly engine: LookupEngine,
    private readonly budget?: Budget,
  ) {}

  readonly resolve = (name: string, type: RecordType): Promise<unknown[]> => this.values(name, type);
  readonly resolve4 = (name: string): Promise<string[]> => this.values(name, 'A') as Promise<string[]>;
  readonly resolve6 = (name: string): Promise<string[]> => this.values(name, 'AAAA') as Promise<string[]>;
  readonly resolveMx = (name: string): Promise<MxRecord[]> => this.values(name, 'MX') as Promise<MxRecord[]>;
  readonly resolveTxt = (name: string): Promise<string[][]> =>
    this.values(name, 'TXT') as Promise<string[][]>;
  readonly resolvePtr = (name: string): Promise<string[]> => this.values(name, 'PTR') as Promise<string[]>;
  readonly resolveSrv = (name: string): Promise<SrvRecord[]> =>
    this.values(name, 'SRV') as Promise<SrvRecord[]>;
  readonly resolveCname = (name: string): Promise<string[]> =>
    this.values(name, 'CNAME') as Promise<string[]>;

  readonly reverse = async (ip: string): Promise<string[]> => {
    if (!isIP(ip)) throw new DnsLookupError('EBADNAME', ip, 'getHostByAddr', 'not an IP address');
    return (await this.values(reverseName(ip), 'PTR', 'getHostByAddr', ip)) as string[];
  };

  private async values(
    name: string,
    type: RecordType,
    syscall = syscallFor(type),
    hostname = name,
  ): Promise<unknown[]> {
    const problem = nameProblem(name);
    if (problem) throw new DnsLookupError('EBADNAME', hostname, syscall, problem);
    let current = normalizeName(name);
    let cnames = 0;
    for (;;) {
      let outcome: Outcome;
      try {
        outcome = await this.engine.lookup(current, type, this.budget);
      } catch (error) {
        throw asCallersError(error, hostname, syscall, current);
      }
      cnames += outcome.cnames;
      if (cnames > this.engine.maxCnameChain) {
        throw new DnsLookupError(
          'ESERVFAIL',
          hostname,
          syscall,
          `CNAME chain longer than ${this.engine.maxCnameChain}`,
        );
      }
      if (outcome.kind === 'data') return [...outcome.values];
      if (outcome.kind === 'negative') throw negativeAnswer(outcome.code, hostname, syscall);
      current = outcome.target;
    }
  }
}

class CachingResolverView extends ResolverView implements CachingResolver {
  readonly withBudget = (maxLookups: number): Resolver =>
    new ResolverView(this.engine, new Budget(maxLookups));
  readonly stats = (): ResolverStats => this.engine.stats();
  readonly clear = (): void => this.engine.clear();
}

function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new Error(`resolver option ${name} must be an integer >= ${min}`);
  return value;
}

/** A caching stub resolver that asks the given servers (or the system's). Throws on bad options. */
export function createResolver(options: ResolverOptions = {}): CachingResolver {
  const servers = (options.servers ?? systemNameServers()).map(parseNameServer);
  if (servers.length === 0) throw new Error('resolver option servers must not be empty');
  const wire: WireOptions = {
    timeoutMs: wholeNumber('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs, 1),
    tries: wholeNumber('tries', options.tries ?? DEFAULTS.tries, 1),
  };
  const maxCnameChain = wholeNumber('maxCnameChain', options.maxCnameChain ?? DEFAULTS.maxCnameChain, 0);
  const cacheSize = wholeNumber('cacheSize', options.cacheSize ?? DEFAULTS.cacheSize, 0);
  const engine = new LookupEngine(servers, wire, maxCnameChain, options.now ?? Date.now, cacheSize);
  return new CachingResolverView(engine);
}

import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { dataPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { createMaildirTarget } from '../delivery/maildir/index.js';
import { type CachingResolver, createResolver } from '../dns/resolver.js';
import { buildHttpApp } from '../http/app.js';
import { mxHandlers } from '../inbound/mx.js';
import { ListenerPolicy } from '../inbound/policy.js';
import { LocalRecipients } from '../inbound/recipients.js';
import { compileChecks } from '../pipeline/config.js';
import type { SmtpServer } from '../protocol/smtp/server.js';
import { createSmtpServer } from '../protocol/smtp/server.js';
import { QueueRunner } from '../queue/runner.js';
import { openSqliteStore } from '../queue/store/sqlite/index.js';
import type { Store } from '../queue/store/types.js';
import { smtpOptions, splitAddress } from './listeners.js';
import { ensureCertificate } from './tls.js';

export interface ListeningOn {
  name: string;
  kind: 'smtp' | 'http';
  profile?: string;
  address: string;
  port: number;
}

export interface RunningOutpost {
  store: Store;
  resolver: CachingResolver;
  runner: QueueRunner;
  listening: ListeningOn[];
  /** Applies a new config: domains, host name and policy take effect for new transactions. */
  reload(config: Config): void;
  /** Stops accepting (421 to new connections), finishes open transactions and deliveries, closes the store. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** Data directory layout; every path outpost writes lives under data_dir. */
export function dataLayout(config: Config) {
  return {
    database: dataPath(config, 'queue/outpost.db'),
    bodies: dataPath(config, 'queue/bodies'),
    mail: dataPath(config, 'mail'),
    cert: dataPath(config, config.tls.cert),
    key: dataPath(config, config.tls.key),
  };
}

/** Starts a whole post office from a validated config: store, delivery, SMTP listeners, HTTP API. */
export async function startOutpost(initial: Config, logger: Logger): Promise<RunningOutpost> {
  let config = initial;
  const layout = dataLayout(config);
  await mkdir(layout.mail, { recursive: true });
  await mkdir(layout.bodies, { recursive: true });
  const tls = await ensureCertificate(layout.cert, layout.key, config.hostname);
  const store = await openSqliteStore({
    path: layout.database,
    bodiesDir: layout.bodies,
    inlineBodyMax: config.queue.inline_body_max,
  });
  const runner = new QueueRunner({
    store,
    targets: { maildir: createMaildirTarget({ root: layout.mail, hostname: config.hostname }) },
    concurrency: config.queue.concurrency,
    leaseMs: config.queue.lease,
    pollMs: config.queue.poll,
    retry: { schedule: config.queue.retry, maxAgeMs: config.queue.max_age },
    logger,
  });
  const recipients = new LocalRecipients(new Set(config.domains.map((d) => d.toLowerCase())), store);
  const resolver = createResolver({
    ...(config.dns.servers.length > 0 ? { servers: config.dns.servers } : {}),
    timeoutMs: config.dns.timeout,
    tries: config.dns.tries,
  });
  const listening: ListeningOn[] = [];
  const servers: SmtpServer[] = [];
  let http: FastifyInstance | undefined;
  try {
    for (const listener of config.listeners) {
      const policy = new ListenerPolicy({
        checks: compileChecks(listener.checks),
        resolver,
        dnsBudget: config.dns.lookups_per_message,
        softBounce: listener.soft_bounce,
        refuseAtGreeting: listener.profile === 'mx-trusted',
        logger,
      });
      const handlers = mxHandlers({
        listenerName: listener.name,
        hostname: () => config.hostname,
        recipients,
        store,
        policy,
        logger,
        onQueued: () => runner.kick(),
      });
      const server = createSmtpServer(smtpOptions(listener, config.hostname, tls), handlers);
      const { host, port } = splitAddress(listener.address);
      const bound = await server.listen(port, host);
      servers.push(server);
      listening.push({ name: listener.name, kind: 'smtp', profile: listener.profile, ...bound });
    }
    http = await buildHttpApp({
      store,
      token: config.http.token,
      logger,
      health: () => ({ listening }),
    });
    const httpAddress = splitAddress(config.http.address);
    await http.listen({ host: httpAddress.host, port: httpAddress.port });
    const bound = http.server.address();
    if (bound && typeof bound === 'object') {
      listening.push({ name: 'http', kind: 'http', address: bound.address, port: bound.port });
    }
  } catch (error) {
    await Promise.allSettled(servers.map((s) => s.close({ timeoutMs: 0 })));
    await http?.close();
    await store.close();
    throw error;
  }
  runner.start();

  return {
    store,
    resolver,
    runner,
    listening,
    reload(next) {
      config = next;
      recipients.setDomains(new Set(next.domains.map((d) => d.toLowerCase())));
      logger.info({ domains: next.domains }, 'configuration reloaded');
    },
    async stop(options) {
      const timeoutMs = options?.timeoutMs ?? 30_000;
      await Promise.allSettled(servers.map((s) => s.close({ timeoutMs })));
      await http?.close();
      await runner.stop();
      await store.close();
    },
  };
}

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dataPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { ensureMailbox } from '../delivery/maildir/index.js';
import { loadDkimKeys } from '../dkim/keys.js';
import { type CachingResolver, createResolver } from '../dns/resolver.js';
import { Forwarding } from '../forward/forwarding.js';
import { closeSharedGreylistStores } from '../greylist/store.js';
import { buildHttpApp } from '../http/app.js';
import { meteredHandlers } from '../inbound/metered.js';
import { ListenerPolicy } from '../inbound/policy.js';
import { profileChecks } from '../inbound/profiles.js';
import { LocalRecipients } from '../inbound/recipients.js';
import { createMetrics } from '../metrics/registry.js';
import { startOutboxWatcher } from '../outbox/index.js';
import { compileChecks } from '../pipeline/config.js';
import type { SmtpServer } from '../protocol/smtp/server.js';
import { createSmtpServer } from '../protocol/smtp/server.js';
import { QueueRunner } from '../queue/runner.js';
import { openSqliteStore } from '../queue/store/sqlite/index.js';
import type { Store } from '../queue/store/types.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { TrustListStore, trustListDbFile } from '../trustlist/store.js';
import { challengeAdmin, im2000Admin } from './admin-adapters.js';
import { buildDelivery } from './delivery.js';
import { splitAddress } from './listeners.js';
import { startChallenges, startPostOffice } from './services.js';
import { listenerSmtpOptions, profileHandlers, withDataPaths } from './smtp-listener.js';
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
  /** Applies a new config: domains, host name, checks and soft_bounce take effect for new transactions; throws (changing nothing) when its checks do not compile. */
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
    ratelimit: dataPath(config, config.submission.rate_limits.database),
    outbox: dataPath(config, config.outbox.database),
    cert: dataPath(config, config.tls.cert),
    key: dataPath(config, config.tls.key),
  };
}

/** Every local domain has a postmaster (RFC 5321 4.5.1), so its mailbox always exists. */
async function ensurePostmasters(mailRoot: string, domains: string[]): Promise<void> {
  for (const domain of domains) await ensureMailbox(mailRoot, `postmaster@${domain.toLowerCase()}`);
}

/** Starts a whole post office from a validated config: store, delivery, SMTP listeners, HTTP API. */
export async function startOutpost(initial: Config, logger: Logger): Promise<RunningOutpost> {
  let config = initial;
  const layout = dataLayout(config);
  await mkdir(layout.mail, { recursive: true });
  await mkdir(layout.bodies, { recursive: true });
  await ensurePostmasters(layout.mail, config.domains);
  const tls = await ensureCertificate(layout.cert, layout.key, config.hostname);
  const store = await openSqliteStore({
    path: layout.database,
    bodiesDir: layout.bodies,
    inlineBodyMax: config.queue.inline_body_max,
  });
  const closers: (() => Promise<void> | void)[] = [() => store.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    return await assemble();
  } catch (error) {
    await closeAll();
    throw error;
  }

  async function assemble(): Promise<RunningOutpost> {
    // Only this process delivers from this store: leases of a run that died are recovered now.
    const recovered = await store.recoverLeases();
    if (recovered > 0) logger.warn({ recovered }, 'recovered deliveries interrupted by the last stop');
    const resolver = createResolver({
      ...(config.dns.servers.length > 0 ? { servers: config.dns.servers } : {}),
      timeoutMs: config.dns.timeout,
      tries: config.dns.tries,
    });
    const metrics = createMetrics({ queue: store });
    const recipients = new LocalRecipients(new Set(config.domains.map((d) => d.toLowerCase())), store);
    let kick = () => {};
    const postOffice = config.im2000.enabled
      ? await startPostOffice(config, {
          store,
          resolver,
          logger,
          tls,
          mailRoot: layout.mail,
          kick: () => kick(),
        })
      : undefined;
    if (postOffice) closers.push(() => postOffice.close());
    const delivery = await buildDelivery({
      config,
      mailRoot: layout.mail,
      resolver,
      logger,
      ...(postOffice ? { im2000: postOffice } : {}),
    });
    closers.push(() => delivery.close());
    const runner = new QueueRunner({
      store,
      targets: delivery.targets,
      concurrency: config.queue.concurrency,
      leaseMs: config.queue.lease,
      pollMs: config.queue.poll,
      retry: { schedule: config.queue.retry, maxAgeMs: config.queue.max_age },
      logger,
      metrics,
      notices: {
        reportingMta: config.hostname,
        warnAfterMs: config.queue.warn_after,
        routeRecipient: (address) => {
          const route = recipients.route(address);
          return { address: route.address, target: delivery.localOrSmtp(route) };
        },
      },
    });
    kick = () => runner.kick();
    closers.push(() => runner.stop());
    const forwarding = new Forwarding({
      dataDir: config.data_dir,
      hostname: () => config.hostname,
      keys: await loadDkimKeys(config.data_dir),
      users: store,
      isLocalDomain: (domain) => recipients.isLocalDomain(domain),
    });
    const challenges = startChallenges(config, {
      store,
      logger,
      targetFor: (address) => delivery.localOrSmtp(recipients.route(address)),
      kick,
    });
    closers.push(() => challenges.close());
    // One limiter for SMTP submission and the Outbox folder: a user's limits are shared.
    const rateLimiter =
      config.listeners.some((l) => l.profile === 'submission') || config.outbox.enabled
        ? new RateLimiter(layout.ratelimit, config.submission.rate_limits)
        : undefined;
    if (rateLimiter) closers.push(() => rateLimiter.close());
    if (config.outbox.enabled) {
      const outbox = startOutboxWatcher({
        store,
        recipients,
        hostname: config.hostname,
        defaultDomain: config.domains[0]?.toLowerCase() ?? config.hostname,
        localTarget: (address) => delivery.localOrSmtp({ kind: 'local', address }),
        mailRoot: layout.mail,
        journalFile: layout.outbox,
        intervalMs: config.outbox.interval,
        logger,
        ...(rateLimiter ? { rateLimiter } : {}),
        onQueued: kick,
      });
      closers.push(() => outbox.stop());
    }

    closers.push(() => closeSharedGreylistStores());
    const listening: ListeningOn[] = [];
    const servers: SmtpServer[] = [];
    const policies = new Map<string, ListenerPolicy>();
    closers.push(() =>
      Promise.allSettled(servers.map((s) => s.close({ timeoutMs: 0 }))).then(() => undefined),
    );
    for (const listener of config.listeners) {
      const policy = new ListenerPolicy({
        checks: compileChecks(withDataPaths(config, profileChecks(listener.profile, listener.checks))),
        resolver,
        dnsBudget: config.dns.lookups_per_message,
        softBounce: listener.soft_bounce,
        refuseAtGreeting: listener.profile === 'mx-trusted',
        logger,
      });
      policies.set(listener.name, policy);
      const handlers = profileHandlers(
        listener,
        {
          listenerName: listener.name,
          hostname: () => config.hostname,
          recipients,
          store,
          policy,
          logger,
          onQueued: kick,
          targetFor: (route) => delivery.targetFor(route),
          ...(listener.profile === 'submission' ? {} : { challenges: challenges.service, forwarding }),
        },
        rateLimiter,
      );
      const server = createSmtpServer(
        await listenerSmtpOptions(config, listener, tls),
        meteredHandlers(handlers, metrics, listener.name),
      );
      const { host, port } = splitAddress(listener.address);
      const bound = await server.listen(port, host);
      servers.push(server);
      listening.push({ name: listener.name, kind: 'smtp', profile: listener.profile, ...bound });
    }
    const trustlist = existsSync(trustListDbFile(config.data_dir))
      ? TrustListStore.open(trustListDbFile(config.data_dir))
      : undefined;
    if (trustlist) closers.push(() => trustlist.close());
    const http = await buildHttpApp({
      store,
      token: config.http.token,
      logger,
      health: () => ({ listening }),
      metrics,
      onQueueDue: kick,
      challenges: challenges.service,
      ...(postOffice ? { postOffice: postOffice.postOffice } : {}),
      admin: {
        challenge: challengeAdmin(challenges.service),
        ...(trustlist ? { trustlist } : {}),
        ...(postOffice ? { im2000: im2000Admin(postOffice.postOffice) } : {}),
      },
    });
    closers.push(() => http.close());
    const httpAddress = splitAddress(config.http.address);
    await http.listen({ host: httpAddress.host, port: httpAddress.port });
    const boundHttp = http.server.address();
    if (boundHttp && typeof boundHttp === 'object') {
      listening.push({ name: 'http', kind: 'http', address: boundHttp.address, port: boundHttp.port });
    }
    if (postOffice) listening.push({ name: 'im2000', kind: 'http', ...postOffice.listening });
    runner.start();

    return {
      store,
      resolver,
      runner,
      listening,
      reload(next) {
        // Compile every listener's checks first: a config that does not compile changes nothing.
        const compiled = next.listeners.map((listener) => ({
          policy: policies.get(listener.name),
          checks: compileChecks(withDataPaths(next, profileChecks(listener.profile, listener.checks))),
          softBounce: listener.soft_bounce,
        }));
        config = next;
        recipients.setDomains(new Set(next.domains.map((d) => d.toLowerCase())));
        for (const { policy, checks, softBounce } of compiled) policy?.reconfigure({ checks, softBounce });
        ensurePostmasters(layout.mail, next.domains).catch((error: unknown) =>
          logger.error({ err: error }, 'cannot create postmaster mailboxes'),
        );
        logger.info({ domains: next.domains }, 'configuration reloaded');
      },
      async stop(options) {
        const timeoutMs = options?.timeoutMs ?? 30_000;
        // Listeners first and gracefully (open transactions finish); then everything else in reverse.
        await Promise.allSettled(servers.map((s) => s.close({ timeoutMs })));
        await closeAll();
      },
    };
  }
}

// The optional services of a running outpost: challenge/response and the IM2000 post office.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ChallengeService } from '../challenge/service.js';
import { dataPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { DeliveryTarget } from '../delivery/types.js';
import type { CachingResolver } from '../dns/resolver.js';
import {
  buildPostOfficeApp,
  createIm2000Route,
  createNoticePolicy,
  createPostOfficeTarget,
  generateSigningKey,
  loadSigningKey,
  PostOffice,
  SIGNING_KEY_FILE,
  saveSigningKey,
} from '../im2000/index.js';
import { newQueueId } from '../queue/ids.js';
import type { Store } from '../queue/store/types.js';
import { splitAddress } from './listeners.js';
import type { TlsMaterial } from './tls.js';

const HOUR = 3_600_000;

export interface RunningChallenges {
  service: ChallengeService;
  close(): void;
}

/** Challenge/response state and its hourly expiry of mail nobody confirmed. */
export function startChallenges(
  config: Config,
  deps: { store: Store; logger: Logger; targetFor: (address: string) => string; kick: () => void },
): RunningChallenges {
  const service = new ChallengeService({
    store: deps.store,
    file: dataPath(config, 'challenge.db'),
    hostname: config.hostname,
    ...(config.challenge.base_url ? { baseUrl: config.challenge.base_url } : {}),
    dailyLimit: config.challenge.daily_limit,
    domainDailyLimit: config.challenge.domain_daily_limit,
    holdMs: config.challenge.hold,
    targetFor: deps.targetFor,
    onQueued: deps.kick,
    logger: deps.logger,
  });
  const timer = setInterval(() => {
    service.expire().catch((error: unknown) => deps.logger.error({ err: error }, 'challenge expiry failed'));
  }, HOUR);
  timer.unref();
  return {
    service,
    close() {
      clearInterval(timer);
      service.close();
    },
  };
}

export interface RunningPostOffice {
  postOffice: PostOffice;
  target: DeliveryTarget;
  publishes(domain: string): Promise<boolean>;
  app: FastifyInstance;
  listening: { address: string; port: number };
  close(): Promise<void>;
}

async function signingKey(config: Config) {
  const file = dataPath(config, SIGNING_KEY_FILE);
  if (!existsSync(file)) await saveSigningKey(file, generateSigningKey());
  return loadSigningKey(file);
}

/** The IM2000 post office: its own HTTPS listener, notices and pulls, SMTP fallback into our queue. */
export async function startPostOffice(
  config: Config,
  deps: {
    store: Store;
    resolver: CachingResolver;
    logger: Logger;
    tls: TlsMaterial;
    mailRoot: string;
    kick: () => void;
  },
): Promise<RunningPostOffice> {
  const settings = config.im2000;
  const { host, port } = splitAddress(settings.address);
  const publicBaseUrl = settings.public_base_url ?? `https://${config.hostname}:${port}`;
  const postOffice = new PostOffice({
    dataDir: config.data_dir,
    mailRoot: deps.mailRoot,
    domains: config.domains,
    postOfficeHost: new URL(publicBaseUrl).hostname,
    publicBaseUrl,
    signingKey: await signingKey(config),
    dns: deps.resolver,
    policy: createNoticePolicy({
      dns: deps.resolver,
      requireFcrdns: settings.require_fcrdns,
      ...(settings.min_domain_age === undefined ? {} : { minDomainAgeMs: settings.min_domain_age }),
      ...(settings.rdap_url === undefined ? {} : { rdapBaseUrl: settings.rdap_url }),
      logger: deps.logger,
    }),
    ...(settings.ca_file === undefined ? {} : { tlsCa: await readFile(dataPath(config, settings.ca_file)) }),
    quotaBytes: settings.quota,
    expiryMs: settings.expiry,
    // The first notice goes out at once; the configured waits come between the later ones.
    retrySchedule: [0, ...settings.notice_retry],
    logger: deps.logger,
    smtpFallback: async (message) => {
      await deps.store.enqueue({
        id: newQueueId(),
        sender: message.from,
        body: message.message,
        receivedAt: Date.now(),
        meta: { via: 'im2000' },
        recipients: message.to.map((address) => ({ address, target: 'smtp' })),
      });
      deps.kick();
    },
  });
  const app = await buildPostOfficeApp(postOffice, {
    tls: { key: deps.tls.key, cert: deps.tls.cert },
    apiToken: config.http.token,
    feeds: { mailRoot: deps.mailRoot, publicFeeds: settings.public_feeds, baseUrl: publicBaseUrl },
    logger: deps.logger,
  });
  await app.listen({ host, port });
  postOffice.start();
  const bound = app.server.address();
  const listening =
    bound && typeof bound === 'object'
      ? { address: bound.address, port: bound.port }
      : { address: host, port };
  return {
    postOffice,
    target: createPostOfficeTarget(postOffice),
    publishes: createIm2000Route(deps.resolver),
    app,
    listening,
    async close() {
      await app.close();
      await postOffice.close();
    },
  };
}

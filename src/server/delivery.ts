// The delivery side of a running outpost: which targets exist, and which one each recipient uses.
import { existsSync } from 'node:fs';
import { dataPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { domainOf } from '../core/address.js';
import type { Logger } from '../core/log.js';
import { createLmtpTarget, servedByLmtp } from '../delivery/lmtp/index.js';
import { createMaildirTarget } from '../delivery/maildir/index.js';
import { createSmtpTarget, smtpTargetOptionsFromConfig } from '../delivery/smtp/index.js';
import type { DeliveryTarget } from '../delivery/types.js';
import { loadDkimKeys } from '../dkim/keys.js';
import type { CachingResolver } from '../dns/resolver.js';
import { loadServerState } from '../gen/server-state.js';
import { formatXgen } from '../gen/xgen.js';
import type { RecipientRoute } from '../inbound/recipients.js';
import { outboundSigner } from './signing.js';

export interface DeliveryAssembly {
  targets: Record<string, DeliveryTarget>;
  /** The target of a routed recipient (IM2000 post office, LMTP, Maildir or SMTP). */
  targetFor(route: RecipientRoute): Promise<string>;
  /** The same without the IM2000 lookup: for notices, which always go by SMTP or locally. */
  localOrSmtp(route: RecipientRoute): string;
  close(): Promise<void>;
}

export interface DeliveryDeps {
  config: Config;
  mailRoot: string;
  resolver: CachingResolver;
  logger: Logger;
  /** When this node runs an IM2000 post office: its delivery target and whether a domain has one. */
  im2000?: { target: DeliveryTarget; publishes(domain: string): Promise<boolean> };
}

/** The generation cookie offered to servers that advertise XGEN, when `outpost gen update` wrote one. */
async function xgenArguments(config: Config): Promise<(() => string) | undefined> {
  const file = dataPath(config, config.gen.state);
  if (!existsSync(file)) return undefined;
  const line = formatXgen(await loadServerState(file)).slice('XGEN '.length);
  return () => line;
}

export async function buildDelivery(deps: DeliveryDeps): Promise<DeliveryAssembly> {
  const { config, logger } = deps;
  const keys = config.delivery.dkim_sign ? await loadDkimKeys(config.data_dir) : new Map();
  const xgen = await xgenArguments(config);
  const smtp = createSmtpTarget(
    smtpTargetOptionsFromConfig(config.delivery.smtp, {
      resolver: deps.resolver,
      hostname: config.hostname,
      logger,
      ...(xgen ? { xgen } : {}),
      ...(keys.size > 0 ? { sign: outboundSigner(keys, config.hostname, logger) } : {}),
    }),
  );
  const lmtpConfig = config.delivery.lmtp;
  const lmtp = lmtpConfig
    ? createLmtpTarget(lmtpConfig.address, {
        lhloName: lmtpConfig.lhlo ?? config.hostname,
        timeoutMs: lmtpConfig.timeout,
      })
    : undefined;
  const targets: Record<string, DeliveryTarget> = {
    maildir: createMaildirTarget({ root: deps.mailRoot, hostname: config.hostname }),
    smtp,
    ...(lmtp ? { lmtp } : {}),
    ...(deps.im2000 ? { 'post-office': deps.im2000.target } : {}),
  };
  const localOrSmtp = (route: RecipientRoute): string => {
    if (route.kind === 'remote') return 'smtp';
    return lmtpConfig && servedByLmtp(lmtpConfig, route.address) ? 'lmtp' : 'maildir';
  };
  const im2000 = deps.im2000;
  const preferIm2000 = im2000 !== undefined && config.im2000.prefer_for_smtp;
  return {
    targets,
    localOrSmtp,
    async targetFor(route) {
      if (route.kind === 'remote' && preferIm2000 && (await im2000.publishes(domainOf(route.address)))) {
        return 'post-office';
      }
      return localOrSmtp(route);
    },
    async close() {
      lmtp?.close();
      await smtp.close();
    },
  };
}

import { dataPath } from '../config/load.js';
import type { CheckEntryConfig, Config, ListenerConfig } from '../config/schema.js';
import { type InboundDeps, mxHandlers } from '../inbound/mx.js';
import { clientCertTls, mxTrustedHandlers } from '../inbound/profiles.js';
import { submissionHandlers } from '../inbound/submission.js';
import { mxUntrustedHandlers } from '../inbound/untrusted.js';
import type { SmtpHandlers, SmtpServerOptions } from '../protocol/smtp/types.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { smtpOptions } from './listeners.js';
import type { TlsMaterial } from './tls.js';

/** Check options that name files are taken relative to data_dir, like every other path outpost writes. */
export function withDataPaths(config: Config, checks: CheckEntryConfig[]): CheckEntryConfig[] {
  return checks.map((entry) =>
    entry.use === 'greylist'
      ? { ...entry, path: dataPath(config, typeof entry.path === 'string' ? entry.path : 'greylist.db') }
      : entry,
  );
}

/** The handlers of a listener's profile: what the listener accepts and from whom. */
export function profileHandlers(
  listener: ListenerConfig,
  deps: InboundDeps,
  rateLimiter: RateLimiter | undefined,
): SmtpHandlers {
  switch (listener.profile) {
    case 'mx':
      return mxHandlers(deps);
    case 'mx-trusted':
      return mxTrustedHandlers(deps, {
        requireClientCert: listener.require_client_cert,
        implicitTls: listener.implicit_tls,
      });
    case 'mx-untrusted':
      return mxUntrustedHandlers(deps);
    case 'submission':
      return submissionHandlers({ ...deps, ...(rateLimiter ? { rateLimiter } : {}) });
  }
}

/** Protocol options of a listener, with the client-certificate CA and CRL of a trusted MX read from disk. */
export async function listenerSmtpOptions(
  config: Config,
  listener: ListenerConfig,
  tls: TlsMaterial,
): Promise<SmtpServerOptions> {
  const options = smtpOptions(listener, config.hostname, tls);
  const clientCerts = await clientCertTls({
    ...(listener.client_ca === undefined ? {} : { clientCa: dataPath(config, listener.client_ca) }),
    ...(listener.client_crl === undefined ? {} : { clientCrl: dataPath(config, listener.client_crl) }),
    requireClientCert: listener.require_client_cert,
  });
  if (clientCerts === undefined || options.tls === undefined) return options;
  return { ...options, tls: { ...options.tls, ...clientCerts } };
}

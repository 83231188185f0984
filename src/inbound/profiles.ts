import { readFile } from 'node:fs/promises';
import type { CheckEntryConfig, ListenerConfig } from '../config/schema.js';
import { OutpostError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import type { SessionInfo, SmtpHandlers, SmtpServerOptions } from '../protocol/smtp/types.js';
import { type InboundDeps, mxHandlers } from './mx.js';

type Profile = ListenerConfig['profile'];
type Actions = NonNullable<CheckEntryConfig['on']>;

/** What the trusted MX does with a client or message it cannot trust: refuse, defer on DNS trouble. */
const TRUSTED_REFUSALS: Actions = { fail: 'reject', none: 'reject', temperror: 'defer' };

/**
 * The untrusted MX accepts everyone but files what is not authenticated in Junk: DMARC pass is the
 * authentication that counts; SPF failures and hosts without confirmed reverse DNS are suspect too.
 * Temporary DNS trouble defers rather than misfiles.
 */
const UNTRUSTED_DEFAULTS: readonly CheckEntryConfig[] = [
  { use: 'fcrdns', on: { fail: 'quarantine', permerror: 'quarantine' }, dry_run: false },
  { use: 'spf', on: { fail: 'quarantine', softfail: 'quarantine', temperror: 'defer' }, dry_run: false },
  { use: 'dkim', dry_run: false },
  {
    use: 'dmarc',
    on: {
      fail: 'quarantine',
      none: 'quarantine',
      neutral: 'quarantine',
      permerror: 'quarantine',
      temperror: 'defer',
    },
    dry_run: false,
  },
];

/** A configured check with the profile's refusals for results its `on` table leaves open. */
function withRefusals(entry: CheckEntryConfig): CheckEntryConfig {
  return { ...entry, on: { ...TRUSTED_REFUSALS, ...entry.on } };
}

/**
 * The checks a listener runs, from its profile and its configured blocks (before compileChecks):
 * - `mx-trusted`: the configured checks; `rttl` must be among them (only the operator knows the
 *   lists) and refuses an unlisted client (554 at the greeting); `server-signature` is added when
 *   missing and refuses a message without one (550 5.7.1 at end of data). Results their `on`
 *   tables name keep the operator's action (e.g. for a dry run).
 * - `mx-untrusted`: the configured checks, or when there are none spf, dkim, dmarc and fcrdns
 *   quarantining what is not authenticated.
 * - `mx`, `submission`: the configured checks as they are.
 */
export function profileChecks(profile: Profile, configured: readonly CheckEntryConfig[]): CheckEntryConfig[] {
  if (profile === 'mx-untrusted') return configured.length > 0 ? [...configured] : [...UNTRUSTED_DEFAULTS];
  if (profile !== 'mx-trusted') return [...configured];
  if (!configured.some((entry) => entry.use === 'rttl')) {
    throw new OutpostError(
      'CONFIG_INVALID',
      'profile "mx-trusted" needs an rttl check naming its trust lists ([[listeners.checks]] use = "rttl")',
    );
  }
  const checks = configured.map((entry) =>
    entry.use === 'rttl' || entry.use === 'server-signature' ? withRefusals(entry) : entry,
  );
  if (!checks.some((entry) => entry.use === 'server-signature')) {
    checks.push(withRefusals({ use: 'server-signature', dry_run: false }));
  }
  return checks;
}

/** The registrar idea: which TLS client certificates a trusted MX listener asks for. */
export interface ClientCertSettings {
  /** PEM file of the CA(s) client certificates must chain to (`listeners[].client_ca`). */
  clientCa?: string;
  /** PEM file of the CA's revocation list (`listeners[].client_crl`). */
  clientCrl?: string;
  /** Refuse clients without a valid certificate (`listeners[].require_client_cert`). */
  requireClientCert: boolean;
}

/**
 * The protocol layer's TLS additions for client certificates: the CA and CRL read from their files
 * and requestCert, merged into SmtpServerOptions.tls. Undefined when no client CA is configured.
 */
export async function clientCertTls(
  settings: ClientCertSettings,
): Promise<Pick<NonNullable<SmtpServerOptions['tls']>, 'ca' | 'crl' | 'requestCert'> | undefined> {
  if (settings.clientCa === undefined) {
    if (settings.requireClientCert) {
      throw new OutpostError('CONFIG_INVALID', 'require_client_cert = true needs client_ca');
    }
    return undefined;
  }
  const ca = await readFile(settings.clientCa);
  const crl = settings.clientCrl === undefined ? undefined : await readFile(settings.clientCrl);
  return { ca, requestCert: true, ...(crl === undefined ? {} : { crl }) };
}

/**
 * Whether a session's TLS client certificate satisfies a listener that requires one: undefined when
 * it does (or none is required), else the refusal. At the greeting (implicit TLS) that is 554, so a
 * standard sender moves on to the next MX; after STARTTLS it is 451 4.7.1, because a 5xx at MAIL
 * would make the sender bounce the message instead of trying the untrusted MX.
 */
export function clientCertificateRefusal(
  session: Pick<SessionInfo, 'tls'>,
  required: boolean,
  atGreeting: boolean,
): Reply | undefined {
  if (!required) return undefined;
  const tls = session.tls;
  let problem: string | undefined;
  if (tls === undefined) problem = 'TLS with a client certificate is required';
  else if (tls.peerCertificate === undefined) problem = 'A TLS client certificate is required';
  else if (!tls.authorized)
    problem = 'Your TLS client certificate is not accepted (unknown issuer or revoked)';
  if (problem === undefined) return undefined;
  return atGreeting
    ? { code: 554, enhanced: '5.7.1', text: problem }
    : { code: 451, enhanced: '4.7.1', text: problem };
}

/**
 * The trusted MX profile: the plain MX handlers (whose connect-stage refusals the listener's policy
 * turns into a 554 greeting, refuseAtGreeting) plus the client-certificate requirement, enforced at
 * the greeting under implicit TLS and at MAIL FROM after STARTTLS.
 */
export function mxTrustedHandlers(
  deps: InboundDeps,
  options: { requireClientCert: boolean; implicitTls: boolean },
): SmtpHandlers {
  const base = mxHandlers(deps);
  if (!options.requireClientCert) return base;
  return {
    ...base,
    async connect(session) {
      if (options.implicitTls) {
        const refusal = clientCertificateRefusal(session, true, true);
        if (refusal !== undefined) return refusal;
      }
      return base.connect?.(session);
    },
    async mailFrom(session, from, params) {
      return clientCertificateRefusal(session, true, false) ?? base.mailFrom(session, from, params);
    },
  };
}

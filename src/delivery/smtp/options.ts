// What the outbound SMTP target can be told: destinations' policies, a smarthost, limits, hooks.
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { Resolver } from '../../dns/types.js';
import type { DeliveryTarget } from '../types.js';
import type { TlsPolicy } from './session.js';

/** Relay everything through one host (small providers), with AUTH when credentials are given. */
export interface SmarthostOptions {
  host: string;
  port: number;
  /** 'starttls' insists on STARTTLS; 'implicit' is TLS from the first byte (465). */
  tls: 'starttls' | 'implicit' | 'none';
  username?: string;
  password?: string;
  /** Check the smarthost's certificate against tlsCa (or Node's roots). Default false. */
  verify?: boolean;
}

/** Settings for one destination domain: `domain` matches exactly, `.domain` matches its subdomains. */
export interface DestinationPolicy {
  domain: string;
  tls?: TlsPolicy;
  /** Messages per minute to this destination; overrides ratePerMinute. */
  ratePerMinute?: number;
}

export interface SmtpTargetOptions {
  resolver: Resolver;
  /** Our name in EHLO; default the host name. */
  heloName?: string;
  /** Port of the MX hosts (25; tests and the fake internet use others). */
  port?: number;
  /** Source address of outgoing connections. */
  localAddress?: string;
  connectTimeoutMs?: number;
  /** Wait for each reply before DATA's final dot (RFC 5321 4.5.3.2 suggests 5 minutes). */
  commandTimeoutMs?: number;
  /** Wait for the reply to the final dot (RFC 5321: 10 minutes). */
  dataTimeoutMs?: number;
  /** Deliveries at once to one destination, and in total. */
  maxPerDestination?: number;
  maxTotal?: number;
  /** How long a delivery waits for a free slot before its recipients are deferred. */
  slotWaitMs?: number;
  /** Messages per minute per destination; 0 = unlimited. */
  ratePerMinute?: number;
  /** Idle connections are kept this long for the next message; 0 = close after each. */
  idleTimeoutMs?: number;
  maxMessagesPerConnection?: number;
  /** TLS policy where no destination policy says otherwise (default 'may'). */
  tls?: TlsPolicy;
  policies?: DestinationPolicy[];
  /** Trusted CAs for policy 'verify' (default: Node's roots). */
  tlsCa?: ConnectionOptions['ca'];
  smarthost?: SmarthostOptions;
  /** Arguments of our XGEN command ("<zone> <epoch> <cookie>"), sent when the peer offers XGEN. */
  xgen?: () => string | undefined;
  /** Applied once per message before sending (DKIM, server signature). */
  sign?: (body: Buffer, sender: string) => Promise<Buffer> | Buffer;
  logger?: Pick<Logger, 'info' | 'warn'>;
  clock?: () => number;
  /** Source of randomness for the order of equal-preference MX hosts. */
  random?: () => number;
  /** Target name in the queue; default 'smtp'. */
  name?: string;
}

/** A delivery target that also owns idle connections, closed at shutdown. */
export interface SmtpTarget extends DeliveryTarget {
  /** QUITs idle connections. In-flight deliveries are not interrupted. */
  close(): Promise<void>;
  /** Idle pooled connections now. */
  idleConnections(): number;
}

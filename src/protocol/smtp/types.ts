import type { TLSSocket } from 'node:tls';
import type { Reply } from '../../core/reply.js';

/** What the protocol layer knows about one connection; handlers may read it, never the socket. */
export interface SessionInfo {
  /** Unique per connection, used in logs and Received headers. */
  id: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** True once TLS is up (implicit TLS or after STARTTLS). */
  secure: boolean;
  tls?: {
    protocol: string;
    cipher: string;
    authorized: boolean;
    peerCertificate?: ReturnType<TLSSocket['getPeerCertificate']>;
  };
  /** HELO/EHLO argument, once given. */
  helo?: string;
  esmtp: boolean;
  /** Authenticated user name, once AUTH succeeded. */
  user?: string;
  /** Free-form per-session state for the inbound layer (check results of the connect stage etc.). */
  state: Record<string, unknown>;
  /** Aborted when the connection is gone (reset, or closed both ways), so work done for this client can stop. */
  signal?: AbortSignal;
}

export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';
export type NotifyOn = 'SUCCESS' | 'FAILURE' | 'DELAY';

/** ESMTP parameters of MAIL FROM (RFC 1870 SIZE, 6152 BODY, 6531 SMTPUTF8, 3461 RET/ENVID, 4954 AUTH). */
export interface MailParams {
  size?: number;
  body?: BodyType;
  smtputf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  auth?: string;
}

/** ESMTP parameters of RCPT TO (RFC 3461 NOTIFY/ORCPT). */
export interface RcptParams {
  /** Empty array means NOTIFY=NEVER; undefined means not given. */
  notify?: NotifyOn[];
  orcpt?: string;
}

export interface Recipient {
  address: string;
  params: RcptParams;
}

/** One mail transaction: MAIL FROM, accepted RCPTs. */
export interface Transaction {
  /** Reverse-path; '' for the null sender. */
  from: string;
  params: MailParams;
  recipients: Recipient[];
}

/**
 * The inbound layer's answers to each verb. Returning undefined means the default positive reply.
 * A thrown error becomes the catalogue reply of an OutpostError, or 451 4.3.0 for anything else.
 */
export interface SmtpHandlers {
  /** Before the greeting. A reply >= 400 is sent instead of 220; 554 keeps the session for QUIT only. */
  connect?(session: SessionInfo): Promise<Reply | undefined>;
  helo?(session: SessionInfo, name: string): Promise<Reply | undefined>;
  /** Checks a username/password (AUTH PLAIN and LOGIN). Resolves to true when valid. */
  authenticate?(session: SessionInfo, username: string, password: string): Promise<boolean>;
  mailFrom(session: SessionInfo, from: string, params: MailParams): Promise<Reply | undefined>;
  rcptTo(session: SessionInfo, tx: Transaction, rcpt: Recipient): Promise<Reply | undefined>;
  /**
   * The complete message (dot-unstuffed, CRLF line endings, without the final ".").
   * The reply is sent as is; it must be positive only once the message is durable.
   */
  data(session: SessionInfo, tx: Transaction, message: Buffer): Promise<Reply>;
  /** Extension verbs (e.g. XGEN) by upper-case verb; each also advertised in EHLO. */
  verbs?: Record<string, (session: SessionInfo, args: string) => Promise<Reply>>;
  close?(session: SessionInfo): void;
}

export interface SmtpServerOptions {
  /** Our host name for the greeting and EHLO. */
  hostname: string;
  /** Greeting text after "220 <hostname> ". */
  banner?: string;
  /** SIZE limit in bytes. */
  maxMessageSize: number;
  maxRecipients: number;
  /** Received header fields a message may carry before it is refused as looping (554 5.4.6). */
  maxHops: number;
  /** Longest command line in bytes, CRLF included. */
  maxCommandLine: number;
  /** Longest text line in DATA in bytes, CRLF included. */
  maxDataLine: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Idle time allowed between commands. */
  commandTimeoutMs: number;
  /** Time allowed for the whole DATA phase. */
  dataTimeoutMs: number;
  /** Protocol errors tolerated before the session is closed with 421. */
  maxErrors: number;
  /** TLS key and certificate; STARTTLS is offered when present. */
  tls?: { key: Buffer; cert: Buffer; ca?: Buffer; requestCert?: boolean; crl?: Buffer };
  /** TLS from the first byte (submission on 465). */
  implicitTls?: boolean;
  /** Offer AUTH; only over TLS unless allowInsecureAuth. */
  auth?: { allowInsecureAuth: boolean };
  /** Advertise DSN (RFC 3461). */
  dsn: boolean;
  /** Where handler failures and session faults are reported; silent when absent. */
  logger?: SmtpLogger;
}

/** The slice of a structured logger (pino's shape) the protocol layer writes to. */
export interface SmtpLogger {
  warn(details: object, message?: string): void;
  error(details: object, message?: string): void;
}

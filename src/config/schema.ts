import { z } from 'zod';
import { lmtpConfigSchema } from '../delivery/lmtp/config.js';
import { smtpDeliveryConfigSchema } from '../delivery/smtp/config.js';
import { outboxConfigSchema } from '../outbox/config.js';
import { rateLimitConfigSchema } from '../ratelimit/config.js';
import { parseDuration, parseSize } from './units.js';

/** Builds a schema for a number or a unit string ("5s", "25MB"), parsed by `parse`. */
function withUnits(parse: (text: string) => number | undefined, expected: string) {
  return z.union([z.number(), z.string()], { error: `expected ${expected}` }).transform((value, ctx) => {
    const parsed = typeof value === 'number' ? value : parse(value);
    if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return Math.floor(parsed);
  });
}

/** A duration in config: "5s", "4h" or milliseconds as a number. Parsed to milliseconds. */
const duration = withUnits(parseDuration, 'a duration like "30s", "5m", "4h"');

/** A size in config: "25MB", "64KB" or bytes as a number. Parsed to bytes. */
const size = withUnits(parseSize, 'a size like "25MB"');

/** "host:port" or "[v6]:port". */
const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port"');

/** What a check result leads to; 'policy' follows the result's own request (DMARC p=). */
const action = z.enum(['accept', 'quarantine', 'defer', 'reject', 'policy']);

export const checkEntrySchema = z
  .object({
    use: z.string().min(1),
    on: z.record(z.string(), action).optional(),
    timeout: duration.optional(),
    dry_run: z.boolean().default(false),
  })
  .loose();

export const listenerSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/, 'expected lower-case letters, digits and "-"'),
    profile: z.enum(['mx', 'mx-trusted', 'mx-untrusted', 'submission']),
    address: listenAddress,
    implicit_tls: z.boolean().default(false),
    max_message_size: size.default(25 * 1024 * 1024),
    max_recipients: z.number().int().positive().default(100),
    /** Received header fields a message may carry; more means a mail loop (RFC 5321 6.3). */
    max_hops: z.number().int().positive().default(100),
    max_connections: z.number().int().positive().default(1000),
    max_connections_per_ip: z.number().int().positive().default(50),
    max_errors: z.number().int().positive().default(10),
    max_command_line: z.number().int().min(512).default(2048),
    max_data_line: z.number().int().min(1000).default(65536),
    command_timeout: duration.default(300_000),
    data_timeout: duration.default(600_000),
    soft_bounce: z.boolean().default(false),
    allow_insecure_auth: z.boolean().default(false),
    /** mx-trusted: CA (PEM) that client certificates must chain to, and its CRL; paths relative to data_dir. */
    client_ca: z.string().optional(),
    client_crl: z.string().optional(),
    require_client_cert: z.boolean().default(false),
    /** MX profiles: the exchange name published for this listener by `outpost dns records`. */
    mx_name: z.string().min(1).optional(),
    checks: z.array(checkEntrySchema).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    hostname: z.string().min(1).default('localhost'),
    /** Relative to the config file's folder. */
    data_dir: z.string().default('.'),
    domains: z.array(z.string().min(1)).default(['localhost']),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    listeners: z.array(listenerSchema).default([]),
    tls: z
      .object({ cert: z.string().default('tls/cert.pem'), key: z.string().default('tls/key.pem') })
      .strict()
      .prefault({}),
    http: z
      .object({
        address: listenAddress.default('127.0.0.1:8025'),
        token: z.string().min(16, 'expected a token of at least 16 characters').optional(),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({
        servers: z.array(listenAddress).default([]),
        timeout: duration.default(3000),
        tries: z.number().int().min(1).max(5).default(2),
        lookups_per_message: z.number().int().min(1).default(40),
      })
      .strict()
      .prefault({}),
    submission: z.object({ rate_limits: rateLimitConfigSchema }).strict().prefault({}),
    delivery: z
      .object({
        smtp: smtpDeliveryConfigSchema.prefault({}),
        /** Local mailboxes of these domains are handed to Dovecot (or another LMTP server). */
        lmtp: lmtpConfigSchema.optional(),
        /** DKIM-sign outgoing mail with the keys of `outpost dkim keygen` (sender domain and host name). */
        dkim_sign: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Mail clients send by saving into their Outbox folder (docs/outbox.md). */
    outbox: outboxConfigSchema,
    challenge: z
      .object({
        /** Public base of the confirm links, e.g. "https://mail.example.org"; no link without it. */
        base_url: z.url().optional(),
        daily_limit: z.number().int().min(1).default(3),
        /** Challenges to all addresses of one sender domain per day: made-up addresses at one domain share it. */
        domain_daily_limit: z.number().int().min(1).default(30),
        hold: duration.default(14 * 86_400_000),
      })
      .strict()
      .prefault({}),
    gen: z
      .object({
        /** This server's generation state (outpost gen update writes it), relative to data_dir. */
        state: z.string().default('gen/state.json'),
      })
      .strict()
      .prefault({}),
    im2000: z
      .object({
        enabled: z.boolean().default(false),
        /** Where the post office's HTTPS endpoints listen. */
        address: listenAddress.default('127.0.0.1:8443'),
        /** Base of our fetch URLs as other post offices see it (host as in our SRV record). */
        public_base_url: z.url().optional(),
        quota: size.default(100 * 1024 * 1024),
        expiry: duration.default(7 * 86_400_000),
        /** Waits between notices to a recipient's post office until it pulls; the last repeats. */
        notice_retry: z.array(duration).min(1).default([60_000, 300_000, 900_000, 3_600_000, 14_400_000]),
        require_fcrdns: z.boolean().default(true),
        min_domain_age: duration.optional(),
        rdap_url: z.url().optional(),
        /** Extra CA (PEM, relative to data_dir) trusted for HTTPS to other post offices. */
        ca_file: z.string().optional(),
        /** Mailboxes published as Atom/JSON feeds. */
        public_feeds: z.array(z.string()).default([]),
        /** Send SMTP-accepted mail as IM2000 when the recipient domain publishes a post office. */
        prefer_for_smtp: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    queue: z
      .object({
        max_age: duration.default(5 * 86_400_000),
        warn_after: duration.default(4 * 3_600_000),
        retry: z
          .array(duration)
          .min(1)
          .default([60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
        concurrency: z.number().int().min(1).max(1000).default(20),
        lease: duration.default(300_000),
        poll: duration.default(1000),
        inline_body_max: size.default(256 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type CheckEntryConfig = z.infer<typeof checkEntrySchema>;

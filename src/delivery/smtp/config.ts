// The [delivery.smtp] table and its translation into target options. The target never reads
// config files; the server assembly calls smtpTargetOptionsFromConfig with what it has built.
import { z } from 'zod';
import { parseDuration } from '../../config/units.js';
import type { SmtpTargetOptions } from './options.js';

/**
 * A duration: "30s", "5m" or milliseconds. The same as src/config/schema.ts's, copied rather than
 * imported so that schema.ts can import this table without an import cycle.
 */
const duration = z
  .union([z.number(), z.string()], { error: 'expected a duration like "30s", "5m", "4h"' })
  .transform((value, ctx) => {
    const parsed = typeof value === 'number' ? value : parseDuration(value);
    if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like "30s", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return Math.floor(parsed);
  });

const tlsPolicy = z.enum(['none', 'may', 'required', 'verify']);

export const smtpPolicySchema = z
  .object({
    /** "example.org" matches that domain, ".example.org" its subdomains. */
    domain: z.string().regex(/^\.?[^\s@.]+(\.[^\s@.]+)*$/, 'expected a domain or ".domain"'),
    tls: tlsPolicy.optional(),
    /** Messages per minute to this destination. */
    rate: z.number().int().min(0).optional(),
  })
  .strict();

export const smarthostSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    tls: z.enum(['starttls', 'implicit', 'none']).default('starttls'),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    verify: z.boolean().default(false),
  })
  .strict()
  .refine((smarthost) => (smarthost.username === undefined) === (smarthost.password === undefined), {
    message: 'username and password go together',
  });

/** `[delivery.smtp]`: outbound delivery by MX lookup or through a smarthost. */
export const smtpDeliveryConfigSchema = z
  .object({
    port: z.number().int().min(1).max(65535).default(25),
    /** EHLO name; default the top-level hostname. */
    helo_name: z.string().min(1).optional(),
    local_address: z.string().min(1).optional(),
    connect_timeout: duration.default(30_000),
    command_timeout: duration.default(300_000),
    data_timeout: duration.default(600_000),
    max_per_destination: z.number().int().min(1).default(10),
    max_total: z.number().int().min(1).default(100),
    slot_wait: duration.default(30_000),
    /** Messages per minute per destination; 0 = unlimited. */
    rate_per_destination: z.number().int().min(0).default(0),
    idle_timeout: duration.default(5_000),
    max_messages_per_connection: z.number().int().min(1).default(100),
    tls: tlsPolicy.default('may'),
    policy: z.array(smtpPolicySchema).default([]),
    smarthost: smarthostSchema.optional(),
  })
  .strict();

export type SmtpDeliveryConfig = z.infer<typeof smtpDeliveryConfigSchema>;

/** What the server assembly supplies beside the config. */
export type SmtpTargetDeps = Pick<SmtpTargetOptions, 'resolver' | 'logger' | 'xgen' | 'sign' | 'tlsCa'> & {
  /** The server's host name, the EHLO name unless helo_name is set. */
  hostname: string;
};

export function smtpTargetOptionsFromConfig(
  cfg: SmtpDeliveryConfig,
  deps: SmtpTargetDeps,
): SmtpTargetOptions {
  const { hostname, ...rest } = deps;
  const options: SmtpTargetOptions = {
    ...rest,
    heloName: cfg.helo_name ?? hostname,
    port: cfg.port,
    connectTimeoutMs: cfg.connect_timeout,
    commandTimeoutMs: cfg.command_timeout,
    dataTimeoutMs: cfg.data_timeout,
    maxPerDestination: cfg.max_per_destination,
    maxTotal: cfg.max_total,
    slotWaitMs: cfg.slot_wait,
    ratePerMinute: cfg.rate_per_destination,
    idleTimeoutMs: cfg.idle_timeout,
    maxMessagesPerConnection: cfg.max_messages_per_connection,
    tls: cfg.tls,
    policies: cfg.policy.map((policy) => ({
      domain: policy.domain,
      tls: policy.tls,
      ratePerMinute: policy.rate,
    })),
  };
  if (cfg.local_address !== undefined) options.localAddress = cfg.local_address;
  if (cfg.smarthost !== undefined) options.smarthost = { ...cfg.smarthost };
  return options;
}

import { z } from 'zod';

/** A limit per hour; 0 turns the limit off. */
const perHour = z.number().int().min(0);

const subjectLimitsSchema = (defaults: { messages: number; recipients: number }) =>
  z
    .object({
      messages_per_hour: perHour.default(defaults.messages),
      recipients_per_hour: perHour.default(defaults.recipients),
    })
    .strict()
    .prefault({});

/**
 * `[submission.rate_limits]`: how much one authenticated user and one client address (an IPv4
 * address, an IPv6 /64) may send. Windows slide over the last hour (docs/reference/ratelimit.md).
 */
export const rateLimitConfigSchema = z
  .object({
    /** Database file, relative to data_dir. */
    database: z.string().min(1).default('ratelimit.db'),
    /** Recipients of one message; more get 452 4.5.3 (RFC 5321 4.5.3.1.10). 0 turns it off. */
    recipients_per_message: z.number().int().min(0).default(100),
    per_user: subjectLimitsSchema({ messages: 200, recipients: 1000 }),
    per_ip: subjectLimitsSchema({ messages: 500, recipients: 2500 }),
  })
  .strict()
  .prefault({});

export type RateLimitConfig = z.infer<typeof rateLimitConfigSchema>;

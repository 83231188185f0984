// The [outbox] section: whether messages that mail clients save into a user's Outbox folder are sent,
// and how often the Outbox folders are looked at (docs/outbox.md).
import { z } from 'zod';
import { parseDuration } from '../config/units.js';

const interval = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = typeof value === 'number' ? value : parseDuration(value);
  if (parsed === undefined || !Number.isFinite(parsed) || parsed <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "5s", got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.floor(parsed);
});

export const outboxConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** How often every user's Outbox is scanned. */
    interval: interval.default(5000),
    /** The journal of messages being sent, relative to data_dir. */
    database: z.string().min(1).default('outbox.db'),
  })
  .strict()
  .prefault({});

export type OutboxConfig = z.infer<typeof outboxConfigSchema>;

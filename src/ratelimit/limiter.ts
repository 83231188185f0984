import type Database from 'better-sqlite3';
import { openStateDatabase } from '../core/state-db.js';
import { networkOf } from '../greylist/triplet.js';
import type { RateLimitConfig } from './config.js';

/** Who is sending: the authenticated user and the client address; either may be absent. */
export interface Sender {
  user?: string;
  ip?: string;
}

export type Metric = 'messages' | 'recipients';

/** A limit that the request would go over, with what the refusal must tell the client. */
export interface Exceeded {
  /** "user alice@example.org" or "client 192.0.2.1" / "client network 2001:db8::/64". */
  who: string;
  metric: Metric;
  /** Allowed per hour. */
  limit: number;
  /** Counted in the last hour. */
  used: number;
  /** What the request adds. */
  requested: number;
  /** When enough of the window has passed for the request to fit; absent when it never can (requested > limit). */
  resetsAt?: number;
}

/** The window every per-hour limit slides over, and the resolution it is counted in. */
export const WINDOW_MS = 3_600_000;
export const BUCKET_MS = 60_000;

/** Buckets older than the window are deleted at most this often. */
const PURGE_INTERVAL_MS = 10 * 60_000;

/** How wide a client address counts as one sender: an IPv4 address, an IPv6 /64 (one customer's LAN). */
const CLIENT_PREFIXES = { ipv4: 32, ipv6: 64 } as const;

interface BucketRow {
  bucket: number;
  amount: number;
}

interface Counter {
  subject: string;
  who: string;
  metric: Metric;
  limit: number;
  requested: number;
}

/**
 * Per-user and per-client rate limits over a sliding one-hour window, counted in one-minute
 * buckets in SQLite so the counts survive a restart. A bucket is counted until a full hour after
 * its end, so the window errs on the strict side by less than a minute. Like greylisting this is
 * not mail: WAL with synchronous=NORMAL (a crash of the machine may forget the last writes, a crash
 * of the process does not), and each decision is one small indexed read on the event loop.
 */
export class RateLimiter {
  private readonly db: Database.Database;
  private readonly selectBuckets: Database.Statement<[string, Metric, number], BucketRow>;
  private readonly addToBucket: Database.Statement<[string, Metric, number, number]>;
  private readonly purgeOld: Database.Statement<[number]>;
  private readonly recordTransaction: (sender: Sender, recipients: number) => Exceeded | undefined;
  private lastPurge: number | undefined;

  /** Opens (creating when missing) the counter database at `file`; `now` is injectable for tests. */
  constructor(
    readonly file: string,
    private readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.db = openStateDatabase(file, 'NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS usage (
        subject TEXT NOT NULL,
        metric TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (subject, metric, bucket)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS usage_bucket ON usage (bucket);
    `);
    this.selectBuckets = this.db.prepare(
      'SELECT bucket, amount FROM usage WHERE subject = ? AND metric = ? AND bucket > ? ORDER BY bucket',
    );
    this.addToBucket = this.db.prepare(
      `INSERT INTO usage (subject, metric, bucket, amount) VALUES (?, ?, ?, ?)
       ON CONFLICT (subject, metric, bucket) DO UPDATE SET amount = amount + excluded.amount`,
    );
    this.purgeOld = this.db.prepare('DELETE FROM usage WHERE bucket <= ?');
    this.recordTransaction = this.db.transaction(this.recordNow.bind(this)).immediate;
  }

  /** The most recipients one message may have; undefined when unlimited. */
  get recipientsPerMessage(): number | undefined {
    const limit = this.config.recipients_per_message;
    return limit === 0 ? undefined : limit;
  }

  /** Would one more message go over a messages-per-hour limit? Nothing is recorded. */
  checkMessage(sender: Sender): Exceeded | undefined {
    const now = this.now();
    return this.firstExceeded(this.counters(sender, 1, 0), now);
  }

  /** Would a message with this many recipients go over a recipients-per-hour limit? Nothing is recorded. */
  checkRecipients(sender: Sender, recipients: number): Exceeded | undefined {
    const now = this.now();
    return this.firstExceeded(this.counters(sender, 0, recipients), now);
  }

  /**
   * Counts one message with its recipients, unless that goes over a limit: then nothing is counted
   * and the limit is returned. Check and count are one transaction, so parallel sessions of one
   * user cannot both take the last slot.
   */
  record(sender: Sender, recipients: number): Exceeded | undefined {
    const exceeded = this.recordTransaction(sender, recipients);
    const now = this.now();
    if (this.lastPurge === undefined || now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      this.purgeOld.run(oldestCounted(now));
    }
    return exceeded;
  }

  close(): void {
    this.db.close();
  }

  private recordNow(sender: Sender, recipients: number): Exceeded | undefined {
    const now = this.now();
    const counters = this.counters(sender, 1, recipients);
    const exceeded = this.firstExceeded(counters, now);
    if (exceeded !== undefined) return exceeded;
    const bucket = bucketOf(now);
    for (const counter of counters) {
      if (counter.requested > 0)
        this.addToBucket.run(counter.subject, counter.metric, bucket, counter.requested);
    }
    return undefined;
  }

  /** The counters a request touches (limits of 0 are off and left out). */
  private counters(sender: Sender, messages: number, recipients: number): Counter[] {
    const subjects: { subject: string; who: string; limits: RateLimitConfig['per_user'] }[] = [];
    if (sender.user !== undefined) {
      const user = sender.user.toLowerCase();
      subjects.push({ subject: `user:${user}`, who: `user ${user}`, limits: this.config.per_user });
    }
    if (sender.ip !== undefined) {
      const network = networkOf(sender.ip, CLIENT_PREFIXES);
      const who = network.endsWith('/32') ? `client ${network.slice(0, -3)}` : `client network ${network}`;
      subjects.push({ subject: `ip:${network}`, who, limits: this.config.per_ip });
    }
    return subjects
      .flatMap(({ subject, who, limits }) => [
        { subject, who, metric: 'messages' as const, limit: limits.messages_per_hour, requested: messages },
        {
          subject,
          who,
          metric: 'recipients' as const,
          limit: limits.recipients_per_hour,
          requested: recipients,
        },
      ])
      .filter((counter) => counter.limit > 0 && counter.requested > 0);
  }

  private firstExceeded(counters: readonly Counter[], now: number): Exceeded | undefined {
    for (const counter of counters) {
      const exceeded = this.evaluate(counter, now);
      if (exceeded !== undefined) return exceeded;
    }
    return undefined;
  }

  private evaluate(counter: Counter, now: number): Exceeded | undefined {
    const rows = this.selectBuckets.all(counter.subject, counter.metric, oldestCounted(now));
    const used = rows.reduce((sum, row) => sum + row.amount, 0);
    if (used + counter.requested <= counter.limit) return undefined;
    const { who, metric, limit, requested } = counter;
    const resetsAt = requested > limit ? undefined : fitsAgainAt(rows, used, requested, limit);
    return { who, metric, limit, used, requested, ...(resetsAt === undefined ? {} : { resetsAt }) };
  }
}

/** Start of the minute bucket `at` falls in. */
function bucketOf(at: number): number {
  return Math.floor(at / BUCKET_MS) * BUCKET_MS;
}

/** Buckets starting after this are still in the window at `now` (each counts until WINDOW_MS after its end). */
function oldestCounted(now: number): number {
  return now - WINDOW_MS - BUCKET_MS;
}

/** When enough of the oldest buckets have left the window for `requested` more to fit under `limit`. */
function fitsAgainAt(
  rows: readonly BucketRow[],
  used: number,
  requested: number,
  limit: number,
): number | undefined {
  let remaining = used;
  for (const row of rows) {
    remaining -= row.amount;
    if (remaining + requested <= limit) return row.bucket + BUCKET_MS + WINDOW_MS;
  }
  return undefined;
}

/** The text for a 450 4.7.1: which limit, how much was used, when to try again. */
export function describeExceeded(exceeded: Exceeded): string {
  const { who, metric, limit, used, requested } = exceeded;
  const head = `Rate limit for ${who}: ${limit} ${metric} per hour`;
  if (exceeded.resetsAt === undefined) {
    return `${head}, and this message alone has ${requested} ${metric}; send fewer per message`;
  }
  const at = new Date(exceeded.resetsAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${head}, ${used} used in the last hour; try again after ${at}`;
}

import path from 'node:path';
import type Database from 'better-sqlite3';
import { openStateDatabase } from '../core/state-db.js';
import type { Triplet } from './triplet.js';

/** Greylisting's timing, in milliseconds. */
export interface GreylistPolicy {
  /** A retry earlier than this after the first attempt is still refused. */
  delayMs: number;
  /** A retry later than this after the first attempt counts as a new first attempt. */
  retryWindowMs: number;
  /** A passed triplet not seen for this long is forgotten. */
  expireMs: number;
}

/** Greylisting's usual timing: 5 minutes, a day to retry, forgotten after 36 days without mail. */
export const DEFAULT_GREYLIST_POLICY: GreylistPolicy = {
  delayMs: 5 * 60_000,
  retryWindowMs: 86_400_000,
  expireMs: 36 * 86_400_000,
};

/** What the store knew about a triplet when asked. */
export type GreylistVerdict =
  /** Never seen, or its retry window or expiry ran out: remembered now, refuse. */
  | { kind: 'new' }
  /** Seen, but the delay has not passed: refuse. */
  | { kind: 'early'; waitMs: number }
  /** The first retry after the delay: remembered as passed, accept. */
  | { kind: 'passed'; afterMs: number }
  /** Passed before and seen within the expiry: accept. */
  | { kind: 'known' };

/** Expired entries are removed at most this often, by the first decision after the interval. */
const CLEANUP_INTERVAL_MS = 3_600_000;

interface Row {
  first_seen: number;
  last_seen: number;
  passed_at: number | null;
}

/**
 * Greylisting state: one SQLite row per triplet. better-sqlite3 is synchronous, so each decision
 * blocks the event loop for one small indexed read and write (about 30 us measured, WAL, no
 * fsync). Unlike the queue this is not mail, so synchronous=NORMAL is enough: a crash may forget
 * the last few triplets, which only means those senders are greylisted once more.
 */
export class GreylistStore {
  private readonly db: Database.Database;
  private readonly select: Database.Statement<[string, string, string], Row>;
  private readonly upsertNew: Database.Statement<[string, string, string, number, number]>;
  private readonly markPassed: Database.Statement<[number, number, string, string, string]>;
  private readonly touch: Database.Statement<[number, string, string, string]>;
  private readonly purgeExpired: Database.Statement<[number, number]>;
  private readonly decideTransaction: (
    triplet: Triplet,
    now: number,
    policy: GreylistPolicy,
  ) => GreylistVerdict;
  private lastCleanup: number | undefined;

  /** Opens (creating when missing) the database at `file`; its directory is created too. */
  constructor(readonly file: string) {
    // Several processes (listeners in their own workers) may share the file.
    this.db = openStateDatabase(file, 'NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS triplets (
        network TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        passed_at INTEGER,
        PRIMARY KEY (network, sender, recipient)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS triplets_last_seen ON triplets (last_seen);
    `);
    this.select = this.db.prepare(
      'SELECT first_seen, last_seen, passed_at FROM triplets WHERE network = ? AND sender = ? AND recipient = ?',
    );
    this.upsertNew = this.db.prepare(
      `INSERT INTO triplets (network, sender, recipient, first_seen, last_seen, passed_at) VALUES (?, ?, ?, ?, ?, NULL)
       ON CONFLICT (network, sender, recipient) DO UPDATE SET
         first_seen = excluded.first_seen, last_seen = excluded.last_seen, passed_at = NULL`,
    );
    this.markPassed = this.db.prepare(
      'UPDATE triplets SET passed_at = ?, last_seen = ? WHERE network = ? AND sender = ? AND recipient = ?',
    );
    this.touch = this.db.prepare(
      'UPDATE triplets SET last_seen = ? WHERE network = ? AND sender = ? AND recipient = ?',
    );
    // Passed entries last `expire` after their last use; unpassed ones are dead once their retry window is over.
    this.purgeExpired = this.db.prepare(
      `DELETE FROM triplets WHERE (passed_at IS NOT NULL AND last_seen < ?)
                               OR (passed_at IS NULL AND first_seen < ?)`,
    );
    this.decideTransaction = this.db.transaction(this.decideNow.bind(this)).immediate;
  }

  /** Records this attempt and says whether the triplet may pass. `now` is in ms (injectable for tests). */
  decide(triplet: Triplet, now: number, policy: GreylistPolicy = DEFAULT_GREYLIST_POLICY): GreylistVerdict {
    const verdict = this.decideTransaction(triplet, now, policy);
    if (this.lastCleanup === undefined || now - this.lastCleanup >= CLEANUP_INTERVAL_MS) {
      this.lastCleanup = now;
      this.purge(now, policy);
    }
    return verdict;
  }

  /** Removes expired and abandoned triplets; returns how many. */
  purge(now: number, policy: GreylistPolicy = DEFAULT_GREYLIST_POLICY): number {
    return this.purgeExpired.run(now - policy.expireMs, now - policy.retryWindowMs).changes;
  }

  /** How many triplets are remembered (for status pages and tests). */
  count(): number {
    const row = this.db.prepare('SELECT count(*) AS n FROM triplets').get() as { n: number };
    return row.n;
  }

  close(): void {
    this.db.close();
  }

  private decideNow(triplet: Triplet, now: number, policy: GreylistPolicy): GreylistVerdict {
    const key = [triplet.network, triplet.sender, triplet.recipient] as const;
    const row = this.select.get(...key);
    const passed = row?.passed_at !== null && row?.passed_at !== undefined;
    if (row === undefined || (passed && now - row.last_seen > policy.expireMs)) {
      this.upsertNew.run(...key, now, now);
      return { kind: 'new' };
    }
    if (passed) {
      this.touch.run(now, ...key);
      return { kind: 'known' };
    }
    const waited = now - row.first_seen;
    if (waited > policy.retryWindowMs || waited < 0) {
      this.upsertNew.run(...key, now, now);
      return { kind: 'new' };
    }
    if (waited < policy.delayMs) {
      this.touch.run(now, ...key);
      return { kind: 'early', waitMs: policy.delayMs - waited };
    }
    this.markPassed.run(now, now, ...key);
    return { kind: 'passed', afterMs: waited };
  }
}

const shared = new Map<string, GreylistStore>();

/** One open store per database file for the whole process, opened on first use. */
export function sharedGreylistStore(file: string): GreylistStore {
  const resolved = path.resolve(file);
  let store = shared.get(resolved);
  if (store === undefined) {
    store = new GreylistStore(resolved);
    shared.set(resolved, store);
  }
  return store;
}

/** Closes every shared store (at shutdown, and between tests that reopen a file). */
export function closeSharedGreylistStores(): void {
  for (const store of shared.values()) store.close();
  shared.clear();
}

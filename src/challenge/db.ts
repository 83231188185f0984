import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openStateDatabase } from '../core/state-db.js';

/** Where a held message stands: waiting for its sender, or finished one way or another. */
export type PendingState = 'pending' | 'released' | 'discarded' | 'expired';

/** One held message for one local user: the recipients of that user in one queued message. */
export interface PendingEntry {
  /** Also the PID field of the confirm cookie, so a reply finds its entry without a lookup table. */
  id: number;
  queueId: string;
  user: string;
  sender: string;
  /** The user's recipient indexes in the queued message (several when they were named twice). */
  rcptIndexes: number[];
  subject: string;
  createdAt: number;
  expiresAt: number;
  /** False when the sender's daily challenge limit held the challenge back. */
  challenged: boolean;
  state: PendingState;
  finishedAt?: number;
}

/** A whitelist entry: an address, or a domain that also covers its subdomains. */
export interface WhitelistEntry {
  user: string;
  entry: string;
  addedAt: number;
  /** 'confirm' when the sender confirmed a challenge, 'operator' when added by hand. */
  source: 'confirm' | 'operator';
}

interface PendingRow {
  id: number;
  queue_id: string;
  user: string;
  sender: string;
  rcpts: string;
  subject: string;
  created_at: number;
  expires_at: number;
  challenged: number;
  state: PendingState;
  finished_at: number | null;
}

interface WhitelistRow {
  user: string;
  entry: string;
  added_at: number;
  source: 'confirm' | 'operator';
}

function toEntry(row: PendingRow): PendingEntry {
  return {
    id: row.id,
    queueId: row.queue_id,
    user: row.user,
    sender: row.sender,
    rcptIndexes: JSON.parse(row.rcpts) as number[],
    subject: row.subject,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    challenged: row.challenged === 1,
    state: row.state,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
  };
}

/** What a new pending entry needs: the database assigns its id and starts it as pending; the confirm link's token hash. */
export type NewPendingEntry = Omit<PendingEntry, 'id' | 'challenged' | 'state' | 'finishedAt'> & {
  tokenHash: string;
};

const DAY_MS = 86_400_000;

/**
 * Challenge/response state in its own SQLite file (data/challenge.db): the TMDA key, held
 * messages, whitelists and the per-sender challenge counts. Like greylisting this is small,
 * synchronous, indexed work; unlike greylisting a lost row would strand a held message, so the
 * file is synchronous=FULL.
 */
export class ChallengeDb {
  private readonly db: Database.Database;

  /** Opens (creating when missing) the database at `file`; its directory is created too. */
  constructor(readonly file: string) {
    // The server and CLI commands (release, whitelist) share the file.
    this.db = openStateDatabase(file, 'FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS pending (
        id INTEGER PRIMARY KEY,
        queue_id TEXT NOT NULL,
        user TEXT NOT NULL,
        sender TEXT NOT NULL,
        rcpts TEXT NOT NULL,
        subject TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        challenged INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        finished_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS pending_user_sender ON pending (user, sender, state);
      CREATE INDEX IF NOT EXISTS pending_state_expires ON pending (state, expires_at);
      CREATE TABLE IF NOT EXISTS whitelist (
        user TEXT NOT NULL,
        entry TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (user, entry)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS challenges_sent (
        sender TEXT NOT NULL,
        day INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (sender, day)
      ) WITHOUT ROWID;
    `);
  }

  /** The installation's TMDA key (40 hex characters), created at random on first use. */
  cryptKey(): string {
    const create = this.db.transaction((): string => {
      const row = this.db.prepare("SELECT value FROM settings WHERE name = 'crypt_key'").get() as
        | { value: string }
        | undefined;
      if (row) return row.value;
      const key = randomBytes(20).toString('hex');
      this.db.prepare("INSERT INTO settings (name, value) VALUES ('crypt_key', ?)").run(key);
      return key;
    });
    return create.immediate();
  }

  insertPending(entry: NewPendingEntry): number {
    const result = this.db
      .prepare(
        `INSERT INTO pending (queue_id, user, sender, rcpts, subject, created_at, expires_at, token_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        entry.queueId,
        entry.user,
        entry.sender,
        JSON.stringify(entry.rcptIndexes),
        entry.subject,
        entry.createdAt,
        entry.expiresAt,
        entry.tokenHash,
      );
    return Number(result.lastInsertRowid);
  }

  markChallenged(id: number): void {
    this.db.prepare('UPDATE pending SET challenged = 1 WHERE id = ?').run(id);
  }

  pendingById(id: number): PendingEntry | undefined {
    const row = this.db.prepare('SELECT * FROM pending WHERE id = ?').get(id) as PendingRow | undefined;
    return row && toEntry(row);
  }

  pendingByTokenHash(tokenHash: string): PendingEntry | undefined {
    const row = this.db.prepare('SELECT * FROM pending WHERE token_hash = ?').get(tokenHash) as
      | PendingRow
      | undefined;
    return row && toEntry(row);
  }

  /** Every entry still waiting for this sender to this user (a confirmation releases them all). */
  pendingFor(user: string, sender: string): PendingEntry[] {
    const rows = this.db
      .prepare("SELECT * FROM pending WHERE user = ? AND sender = ? AND state = 'pending' ORDER BY id")
      .all(user, sender) as PendingRow[];
    return rows.map(toEntry);
  }

  /** Waiting entries, oldest first; of one user when given. */
  listPending(options: { user?: string; limit: number }): PendingEntry[] {
    const rows = (
      options.user === undefined
        ? this.db
            .prepare("SELECT * FROM pending WHERE state = 'pending' ORDER BY id LIMIT ?")
            .all(options.limit)
        : this.db
            .prepare("SELECT * FROM pending WHERE state = 'pending' AND user = ? ORDER BY id LIMIT ?")
            .all(options.user, options.limit)
    ) as PendingRow[];
    return rows.map(toEntry);
  }

  /** Waiting entries whose time ran out at `now`. */
  expiredPending(now: number): PendingEntry[] {
    const rows = this.db
      .prepare("SELECT * FROM pending WHERE state = 'pending' AND expires_at <= ? ORDER BY id")
      .all(now) as PendingRow[];
    return rows.map(toEntry);
  }

  /** Moves a waiting entry to a final state; false when it was not waiting any more. */
  finish(id: number, state: Exclude<PendingState, 'pending'>, now: number): boolean {
    const result = this.db
      .prepare("UPDATE pending SET state = ?, finished_at = ? WHERE id = ? AND state = 'pending'")
      .run(state, now, id);
    return result.changes === 1;
  }

  /** Forgets finished entries and challenge counts older than the cutoff; returns entries removed. */
  forgetBefore(cutoff: number): number {
    this.db.prepare('DELETE FROM challenges_sent WHERE day < ?').run(Math.floor(cutoff / DAY_MS));
    return this.db.prepare("DELETE FROM pending WHERE state != 'pending' AND finished_at < ?").run(cutoff)
      .changes;
  }

  /**
   * Counts one challenge to `sender` today, and one to its domain (counted under "@domain"),
   * unless either is at its limit: then nothing is counted and the full one is named.
   */
  takeChallengeSlot(
    sender: string,
    now: number,
    limits: { sender: number; domain: number },
  ): 'taken' | 'sender' | 'domain' {
    const day = Math.floor(now / DAY_MS);
    const domain = `@${sender.slice(sender.lastIndexOf('@') + 1)}`;
    const countOf = (key: string): number =>
      (
        this.db.prepare('SELECT count FROM challenges_sent WHERE sender = ? AND day = ?').get(key, day) as
          | { count: number }
          | undefined
      )?.count ?? 0;
    const count = (key: string): void => {
      this.db
        .prepare(
          `INSERT INTO challenges_sent (sender, day, count) VALUES (?, ?, 1)
           ON CONFLICT (sender, day) DO UPDATE SET count = count + 1`,
        )
        .run(key, day);
    };
    const take = this.db.transaction((): 'taken' | 'sender' | 'domain' => {
      if (countOf(sender) >= limits.sender) return 'sender';
      if (countOf(domain) >= limits.domain) return 'domain';
      count(sender);
      count(domain);
      return 'taken';
    });
    return take.immediate();
  }

  /** Adds or refreshes a whitelist entry. */
  addWhitelist(entry: WhitelistEntry): void {
    this.db
      .prepare(
        `INSERT INTO whitelist (user, entry, added_at, source) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, entry) DO UPDATE SET added_at = excluded.added_at, source = excluded.source`,
      )
      .run(entry.user, entry.entry, entry.addedAt, entry.source);
  }

  removeWhitelist(user: string, entry: string): boolean {
    return (
      this.db.prepare('DELETE FROM whitelist WHERE user = ? AND entry = ?').run(user, entry).changes === 1
    );
  }

  listWhitelist(user: string): WhitelistEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM whitelist WHERE user = ? ORDER BY entry')
      .all(user) as WhitelistRow[];
    return rows.map((row) => ({
      user: row.user,
      entry: row.entry,
      addedAt: row.added_at,
      source: row.source,
    }));
  }

  /** True when any of the candidate entries (address, its domain, parent domains) is listed. */
  whitelisted(user: string, candidates: readonly string[]): boolean {
    const row = this.db
      .prepare('SELECT 1 AS hit FROM whitelist WHERE user = ? AND entry IN (SELECT value FROM json_each(?))')
      .get(user, JSON.stringify(candidates));
    return row !== undefined;
  }

  close(): void {
    this.db.close();
  }
}

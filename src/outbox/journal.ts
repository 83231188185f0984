import type Database from 'better-sqlite3';
import { openStateDatabase } from '../core/state-db.js';

/**
 * - pending: about to be queued under queueId; whether it was depends on the queue holding queueId.
 * - queued: in the queue; the file only needs moving to Sent.
 * - held: over a rate limit; the user has been told once, the file stays in the Outbox.
 */
export type JournalState = 'pending' | 'queued' | 'held';

export interface JournalEntry {
  state: JournalState;
  queueId?: string;
}

interface EntryRow {
  state: JournalState;
  queue_id: string | null;
}

/**
 * One row per Outbox file in flight, keyed by user and file name (without Maildir flags). Each
 * write is synced (synchronous=FULL) before the step that depends on it: a pending row is on disk
 * before the queue sees the message.
 */
export class OutboxJournal {
  private readonly db: Database.Database;
  private readonly selectEntry: Database.Statement<[string], EntryRow>;
  private readonly upsertEntry: Database.Statement<[string, JournalState, string | null, number]>;
  private readonly deleteEntry: Database.Statement<[string]>;

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    this.db = openStateDatabase(file, 'FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        file TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        queue_id TEXT,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    this.selectEntry = this.db.prepare('SELECT state, queue_id FROM outbox WHERE file = ?');
    this.upsertEntry = this.db.prepare(
      `INSERT INTO outbox (file, state, queue_id, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (file) DO UPDATE SET state = excluded.state, queue_id = excluded.queue_id,
         updated_at = excluded.updated_at`,
    );
    this.deleteEntry = this.db.prepare('DELETE FROM outbox WHERE file = ?');
  }

  get(file: string): JournalEntry | undefined {
    const row = this.selectEntry.get(file);
    if (row === undefined) return undefined;
    return { state: row.state, ...(row.queue_id === null ? {} : { queueId: row.queue_id }) };
  }

  set(file: string, state: JournalState, queueId?: string): void {
    this.upsertEntry.run(file, state, queueId ?? null, this.now());
  }

  /** The file has left the Outbox: nothing more to remember. */
  forget(file: string): void {
    this.deleteEntry.run(file);
  }

  close(): void {
    this.db.close();
  }
}

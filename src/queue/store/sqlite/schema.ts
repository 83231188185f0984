import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many ran. Append only:
 * never edit a migration that has shipped.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    envid TEXT,
    ret TEXT,
    meta TEXT NOT NULL,
    body_file TEXT,
    -- last, so reading the other columns never walks the body's overflow pages
    body BLOB
  );
  CREATE TABLE recipients (
    message_id TEXT NOT NULL,
    rcpt_index INTEGER NOT NULL,
    address TEXT NOT NULL,
    orcpt TEXT,
    notify TEXT,
    target TEXT NOT NULL,
    folder TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_reply TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, rcpt_index)
  );
  CREATE INDEX recipients_status_next ON recipients (status, next_attempt_at);
  -- the scheduler's scan: due rows in time order without a sort
  CREATE INDEX recipients_due ON recipients (next_attempt_at) WHERE status IN ('queued', 'deferred');
  CREATE TABLE users (
    address TEXT PRIMARY KEY COLLATE NOCASE,
    password_hash TEXT,
    settings TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // When a delay DSN was queued per recipient, so queue.warn_after sends one notice, not one per retry.
  'ALTER TABLE recipients ADD COLUMN delay_notified_at INTEGER;',
  // When a recipient was last moved (back) to 'queued': its retry life (max_age, warn_after)
  // starts there. Rows from before it start at their message's reception, as they always did.
  `
  ALTER TABLE recipients ADD COLUMN queued_since INTEGER;
  UPDATE recipients SET queued_since = (SELECT received_at FROM messages WHERE id = recipients.message_id);
  `,
];

/** Brings a database up to the newest schema; refuses one written by a newer outpost. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true });
  if (typeof current !== 'number') throw new Error('cannot read the queue schema version');
  if (current > migrations.length) {
    throw new Error(`queue schema version ${current} is newer than this outpost (${migrations.length})`);
  }
  for (let version = current; version < migrations.length; version++) {
    const sql = migrations[version] ?? '';
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

/** Connection settings of the writer: WAL, every commit synced, checkpoints under our control. */
export function configureWriter(db: Database, maxDbBytes: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  // Once a checkpoint resets the WAL, keep at most this much of it on disk.
  db.pragma('journal_size_limit = 67108864');
  db.pragma('temp_store = MEMORY');
  db.pragma('busy_timeout = 5000');
  if (maxDbBytes > 0) {
    const pageSize = db.pragma('page_size', { simple: true });
    if (typeof pageSize === 'number') db.pragma(`max_page_count = ${Math.ceil(maxDbBytes / pageSize)}`);
  }
}

import type Database from 'better-sqlite3';
import { openStateDatabase } from '../core/state-db.js';
import { type MessageStatus, OPEN_STATUSES, type RecipientState, type RecipientStatus } from './protocol.js';

/** The database file name inside the data dir. */
export const IM2000_DB_FILE = 'im2000.db';

export interface StoredMessage {
  id: string;
  sender: string;
  body: Buffer;
  sha256: string;
  subject: string;
  createdAt: number;
  expiresAt: number;
  recipients: { address: string; token: string }[];
}

/** A recipient whose next notice is due, with what the notice needs. */
export interface DueNotice {
  id: string;
  sender: string;
  size: number;
  sha256: string;
  subject: string;
  createdAt: number;
  expiresAt: number;
  address: string;
  token: string;
  status: RecipientStatus;
  attempts: number;
}

interface RecipientRow {
  address: string;
  token: string;
  status: RecipientStatus;
  attempts: number;
  last_error: string | null;
  notified_at: number | null;
  fetched_at: number | null;
  receipted_at: number | null;
}

interface MessageRow {
  id: string;
  sender: string;
  size: number;
  sha256: string;
  subject: string;
  created_at: number;
  expires_at: number;
}

const OPEN = OPEN_STATUSES.map((status) => `'${status}'`).join(',');

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender, expires_at);
  CREATE TABLE IF NOT EXISTS recipients (
    message_id TEXT NOT NULL REFERENCES messages (id),
    address TEXT NOT NULL,
    token TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    notified_at INTEGER,
    fetched_at INTEGER,
    receipted_at INTEGER,
    PRIMARY KEY (message_id, address)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS recipients_due ON recipients (status, next_attempt_at);
  CREATE TABLE IF NOT EXISTS received (
    origin TEXT NOT NULL,
    id TEXT NOT NULL,
    address TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (origin, id, address)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS feed_seen (
    feed TEXT NOT NULL,
    item TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (feed, item)
  ) WITHOUT ROWID;
`;

function recipientState(row: RecipientRow): RecipientState {
  return {
    address: row.address,
    status: row.status,
    attempts: row.attempts,
    ...(row.last_error === null ? {} : { lastError: row.last_error }),
    ...(row.notified_at === null ? {} : { notifiedAt: row.notified_at }),
    ...(row.fetched_at === null ? {} : { fetchedAt: row.fetched_at }),
    ...(row.receipted_at === null ? {} : { receiptedAt: row.receipted_at }),
  };
}

/**
 * better-sqlite3 is synchronous: each call blocks the event loop for one small indexed statement
 * (bodies up to a few MB go in as one BLOB). Storing a message commits with synchronous=FULL (the
 * WAL is fsynced): it is the sender's outgoing queue and archive and must survive a crash. Every
 * other write is a state change whose loss costs only a repeated notice or pull, which the
 * protocol already makes harmless (the receiver recognises the message, the Maildir name is the
 * same), so those commit with synchronous=NORMAL and the next FULL commit makes them durable too.
 */
export class Im2000Store {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    // The CLI writes into the same file as the running server.
    this.db = openStateDatabase(file, 'NORMAL', 5000);
    this.db.exec(SCHEMA);
  }

  /** Bytes of the sender's messages still held: not expired, and not recalled for everyone. */
  usedQuota(sender: string, now: number): number {
    const row = this.db
      .prepare<[string, number], { used: number }>(
        `SELECT COALESCE(SUM(m.size), 0) AS used FROM messages m
         WHERE m.sender = ? AND m.expires_at > ?
           AND EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.status != 'recalled')`,
      )
      .get(sender, now);
    return row?.used ?? 0;
  }

  /** Stores a message when the sender's quota allows it, in one transaction; false when it does not. */
  insertWithinQuota(message: StoredMessage, quotaBytes: number, now: number): boolean {
    const insert = this.db.transaction(() => {
      if (this.usedQuota(message.sender, now) + message.body.length > quotaBytes) return false;
      this.db
        .prepare(
          'INSERT INTO messages (id, sender, body, size, sha256, subject, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          message.id,
          message.sender,
          message.body,
          message.body.length,
          message.sha256,
          message.subject,
          message.createdAt,
          message.expiresAt,
        );
      const add = this.db.prepare(
        "INSERT INTO recipients (message_id, address, token, status, next_attempt_at) VALUES (?, ?, ?, 'pending', ?)",
      );
      for (const recipient of message.recipients)
        add.run(message.id, recipient.address, recipient.token, now);
      return true;
    });
    this.db.pragma('synchronous = FULL');
    try {
      return insert.immediate();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** Recipients per status, over all messages (operators, metrics, the benchmark). */
  statusCounts(): Partial<Record<RecipientStatus, number>> {
    const rows = this.db
      .prepare<[], { status: RecipientStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM recipients GROUP BY status',
      )
      .all();
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  }

  /** The newest messages this post office keeps for its senders, newest first. */
  recent(limit: number): MessageStatus[] {
    const ids = this.db
      .prepare<[number], { id: string }>('SELECT id FROM messages ORDER BY created_at DESC LIMIT ?')
      .all(limit);
    return ids.flatMap(({ id }) => this.status(id) ?? []);
  }

  status(id: string): MessageStatus | undefined {
    const message = this.db
      .prepare<[string], MessageRow>(
        'SELECT id, sender, size, sha256, subject, created_at, expires_at FROM messages WHERE id = ?',
      )
      .get(id);
    if (message === undefined) return undefined;
    const rows = this.db
      .prepare<[string], RecipientRow>(
        `SELECT address, token, status, attempts, last_error, notified_at, fetched_at, receipted_at
         FROM recipients WHERE message_id = ? ORDER BY address`,
      )
      .all(id);
    return {
      id: message.id,
      from: message.sender,
      size: message.size,
      sha256: message.sha256,
      subject: message.subject,
      createdAt: message.created_at,
      expiresAt: message.expires_at,
      recipients: rows.map(recipientState),
    };
  }

  /** The message body, its expiry and its recipients' tokens, for a fetch. */
  forFetch(id: string):
    | {
        body: Buffer;
        expiresAt: number;
        recipients: { address: string; token: string; status: RecipientStatus }[];
      }
    | undefined {
    const message = this.db
      .prepare<[string], { body: Buffer; expires_at: number }>(
        'SELECT body, expires_at FROM messages WHERE id = ?',
      )
      .get(id);
    if (message === undefined) return undefined;
    const recipients = this.db
      .prepare<[string], { address: string; token: string; status: RecipientStatus }>(
        'SELECT address, token, status FROM recipients WHERE message_id = ?',
      )
      .all(id);
    return { body: message.body, expiresAt: message.expires_at, recipients };
  }

  /** Moves a recipient to `status` when it is currently one of `from`; true when it moved. */
  transition(
    id: string,
    address: string,
    from: readonly RecipientStatus[],
    status: RecipientStatus,
    fields: { at?: number; lastError?: string; nextAttemptAt?: number } = {},
  ): boolean {
    const column =
      status === 'notified'
        ? 'notified_at'
        : status === 'fetched'
          ? 'fetched_at'
          : status === 'receipted'
            ? 'receipted_at'
            : undefined;
    const allowed = from.map((value) => `'${value}'`).join(',');
    const sets = ['status = @status'];
    if (column && fields.at !== undefined) sets.push(`${column} = COALESCE(${column}, @at)`);
    if (fields.lastError !== undefined) sets.push('last_error = @lastError');
    const result = this.db
      .prepare(
        `UPDATE recipients SET ${sets.join(', ')} WHERE message_id = @id AND address = @address AND status IN (${allowed})`,
      )
      .run({ id, address, status, at: fields.at ?? null, lastError: fields.lastError ?? null });
    return result.changes > 0;
  }

  /** Records a notice attempt: attempts + 1 and when the next one is due. */
  attempted(id: string, address: string, nextAttemptAt: number, lastError: string | undefined): void {
    this.db
      .prepare(
        'UPDATE recipients SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE message_id = ? AND address = ?',
      )
      .run(nextAttemptAt, lastError ?? null, id, address);
  }

  /** Recipients whose notice is due now, oldest first. */
  due(now: number, limit: number): DueNotice[] {
    return this.db
      .prepare<[number, number, number], DueNotice>(
        `SELECT m.id, m.sender, m.size, m.sha256, m.subject, m.created_at AS createdAt, m.expires_at AS expiresAt,
                r.address, r.token, r.status, r.attempts
         FROM recipients r JOIN messages m ON m.id = r.message_id
         WHERE r.status IN (${OPEN}) AND r.next_attempt_at <= ? AND m.expires_at > ?
         ORDER BY r.next_attempt_at LIMIT ?`,
      )
      .all(now, now, limit);
  }

  /** Every open recipient of an expired message becomes `expired`; returns how many. */
  expire(now: number): number {
    return this.db
      .prepare(
        `UPDATE recipients SET status = 'expired'
         WHERE status IN (${OPEN}) AND message_id IN (SELECT id FROM messages WHERE expires_at <= ?)`,
      )
      .run(now).changes;
  }

  /** Recalls the recipients that have not fetched; returns their addresses. */
  recall(id: string): string[] {
    const rows = this.db
      .prepare<[string], { address: string }>(
        "UPDATE recipients SET status = 'recalled' WHERE message_id = ? AND status IN ('pending', 'notified') RETURNING address",
      )
      .all(id);
    return rows.map((row) => row.address);
  }

  /** The earliest time a notice is due (undefined when nothing waits). */
  nextDue(): number | undefined {
    const row = this.db
      .prepare<[], { next: number | null }>(
        `SELECT MIN(next_attempt_at) AS next FROM recipients WHERE status IN (${OPEN})`,
      )
      .get();
    return row?.next ?? undefined;
  }

  wasReceived(origin: string, id: string, address: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM received WHERE origin = ? AND id = ? AND address = ?')
        .get(origin, id, address) !== undefined
    );
  }

  markReceived(origin: string, id: string, address: string, now: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO received (origin, id, address, stored_at) VALUES (?, ?, ?, ?)')
      .run(origin, id, address, now);
  }

  hasSeen(feed: string, item: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM feed_seen WHERE feed = ? AND item = ?').get(feed, item) !== undefined
    );
  }

  /** Remembers a feed item; false when it was seen before. */
  markSeen(feed: string, item: string, now: number): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO feed_seen (feed, item, seen_at) VALUES (?, ?, ?)')
        .run(feed, item, now).changes > 0
    );
  }

  close(): void {
    this.db.close();
  }
}

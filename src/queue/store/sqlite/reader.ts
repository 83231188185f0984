// Reads run on the caller's thread over a read-only connection: WAL lets them proceed while the
// writer thread commits, and they are small (operator queries, one body per delivery).
import Database, { type Database as Connection, type Statement } from 'better-sqlite3';
import {
  type MessageRow,
  type QueueFilter,
  type QueueStats,
  RECIPIENT_STATUSES,
  type RecipientRow,
  type RecipientStatus,
  type User,
} from '../types.js';
import {
  isRecipientStatus,
  type MessageRecord,
  type RecipientRecord,
  toMessageRow,
  toRecipientRow,
  toUser,
  type UserRecord,
} from './rows.js';

const DEFAULT_LIST_LIMIT = 1000;

/** Where a message's body is: inline bytes, or the name of its file in bodiesDir. */
export type BodyLocation = { inline: Buffer } | { file: string };

export class QueueReader {
  private readonly db: Connection;
  private readonly selectBody: Statement<[string], { body_file: string | null; body: Buffer | null }>;
  private readonly selectMessage: Statement<[string], MessageRecord>;
  private readonly selectRecipients: Statement<[string], RecipientRecord>;
  private readonly countMessages: Statement<[], { count: number }>;
  private readonly countByStatus: Statement<[], { status: string; count: number }>;
  private readonly selectUser: Statement<[string], UserRecord>;
  private readonly selectUsers: Statement<[], UserRecord>;

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    this.selectBody = this.db.prepare('SELECT body_file, body FROM messages WHERE id = ?');
    this.selectMessage = this.db.prepare(
      'SELECT id, sender, size, received_at, envid, ret, meta FROM messages WHERE id = ?',
    );
    this.selectRecipients = this.db.prepare(
      'SELECT * FROM recipients WHERE message_id = ? ORDER BY rcpt_index',
    );
    this.countMessages = this.db.prepare('SELECT count(*) AS count FROM messages');
    this.countByStatus = this.db.prepare('SELECT status, count(*) AS count FROM recipients GROUP BY status');
    this.selectUser = this.db.prepare('SELECT * FROM users WHERE address = ?');
    this.selectUsers = this.db.prepare('SELECT * FROM users ORDER BY address');
  }

  bodyLocation(messageId: string): BodyLocation | undefined {
    const row = this.selectBody.get(messageId);
    if (row === undefined) return undefined;
    if (row.body_file !== null) return { file: row.body_file };
    return { inline: row.body ?? Buffer.alloc(0) };
  }

  message(messageId: string): MessageRow | undefined {
    const record = this.selectMessage.get(messageId);
    if (record === undefined) return undefined;
    return toMessageRow(record, this.selectRecipients.all(messageId));
  }

  list(filter: QueueFilter): RecipientRow[] {
    // Filters combine freely, so this statement is built per call; it is an operator query, not hot.
    const conditions: string[] = [];
    const params: Record<string, string | number> = {
      limit: Math.max(1, Math.min(filter.limit ?? DEFAULT_LIST_LIMIT, 100_000)),
    };
    if (filter.status !== undefined) {
      conditions.push('r.status = @status');
      params.status = filter.status;
    }
    if (filter.sender !== undefined) {
      conditions.push('m.sender = @sender COLLATE NOCASE');
      params.sender = filter.sender;
    }
    if (filter.recipient !== undefined) {
      conditions.push('r.address = @recipient COLLATE NOCASE');
      params.recipient = filter.recipient;
    }
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    const records = this.db
      .prepare<[Record<string, string | number>], RecipientRecord>(
        `SELECT r.* FROM recipients r JOIN messages m ON m.id = r.message_id ${where}
         ORDER BY r.message_id, r.rcpt_index LIMIT @limit`,
      )
      .all(params);
    return records.map(toRecipientRow);
  }

  stats(): QueueStats {
    const byStatus = Object.fromEntries(RECIPIENT_STATUSES.map((status) => [status, 0])) as Record<
      RecipientStatus,
      number
    >;
    for (const row of this.countByStatus.all()) {
      if (isRecipientStatus(row.status)) byStatus[row.status] = row.count;
    }
    return { messages: this.countMessages.get()?.count ?? 0, byStatus };
  }

  user(address: string): User | undefined {
    const record = this.selectUser.get(address);
    return record === undefined ? undefined : toUser(record);
  }

  users(): User[] {
    return this.selectUsers.all().map(toUser);
  }

  close(): void {
    this.db.close();
  }
}

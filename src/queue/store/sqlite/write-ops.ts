// The writer thread's statements: one method per write operation, each run inside the batch's
// transaction (under its own savepoint, see writer.ts). Prepared once; nothing here commits.
import type { Database, Statement } from 'better-sqlite3';
import type { DeliveryOutcome, LeasedRecipient } from '../types.js';
import type { EncodedMessage, EncodedUser, WriteRequest } from './protocol.js';
import { FINAL_STATUSES, type LeaseRecord, toLeasedRecipient } from './rows.js';

/** An operation's result plus the body files to delete once its transaction has committed. */
export interface OpResult {
  value: null | number | boolean | LeasedRecipient[];
  filesToDiscard?: string[];
}

type Request<K extends WriteRequest['op']> = Extract<WriteRequest, { op: K }>;

export class WriteOps {
  private readonly insertMessage: Statement;
  private readonly insertRecipient: Statement;
  private readonly selectDue: Statement<[{ now: number; limit: number }], LeaseRecord>;
  private readonly setLease: Statement;
  private readonly recordOutcome: Statement;
  private readonly setStatusAll: Statement;
  private readonly setStatusOne: Statement;
  private readonly flushAll: Statement;
  private readonly flushOne: Statement;
  private readonly expireLeases: Statement;
  private readonly setFolderAll: Statement;
  private readonly setFolderOne: Statement;
  private readonly selectBodyFile: Statement<[string], { body_file: string | null }>;
  private readonly deleteRecipients: Statement;
  private readonly deleteMessage: Statement;
  private readonly selectPurgeable: Statement<[{ cutoff: number }], { id: string; body_file: string | null }>;
  private readonly insertUser: Statement;
  private readonly deleteUser: Statement;
  private readonly updateUserRow: Statement;

  constructor(db: Database) {
    this.insertMessage = db.prepare(
      `INSERT INTO messages (id, sender, size, received_at, envid, ret, meta, body_file, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertRecipient = db.prepare(
      `INSERT INTO recipients (message_id, rcpt_index, address, orcpt, notify, target, folder, status,
         attempts, next_attempt_at, updated_at, queued_since)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
    );
    this.selectDue = db.prepare(
      `SELECT r.*, m.sender, m.received_at, m.envid, m.ret FROM recipients r JOIN messages m ON m.id = r.message_id
       WHERE r.status IN ('queued', 'deferred') AND r.next_attempt_at <= @now
         AND (r.lease_until IS NULL OR r.lease_until < @now)
       ORDER BY r.next_attempt_at LIMIT @limit`,
    );
    this.setLease = db.prepare(
      'UPDATE recipients SET lease_owner = ?, lease_until = ? WHERE message_id = ? AND rcpt_index = ?',
    );
    this.recordOutcome = db.prepare(
      `UPDATE recipients SET status = @status, attempts = attempts + 1,
         next_attempt_at = coalesce(@nextAttemptAt, next_attempt_at), last_reply = @reply,
         lease_owner = NULL, lease_until = NULL, updated_at = @now,
         delay_notified_at = CASE WHEN @delayNotified THEN @now ELSE delay_notified_at END
       WHERE message_id = @messageId AND rcpt_index = @rcptIndex`,
    );
    // Moving a recipient (back) to 'queued' makes it due now and starts its retry life afresh:
    // that is what release and requeue mean (held mail is not expired by its time on hold).
    const setStatus = `UPDATE recipients SET status = @to, updated_at = @now,
         next_attempt_at = CASE WHEN @to = 'queued' THEN @now ELSE next_attempt_at END,
         queued_since = CASE WHEN @to = 'queued' THEN @now ELSE queued_since END
       WHERE message_id = @messageId AND status IN (SELECT value FROM json_each(@from))`;
    this.setStatusAll = db.prepare(setStatus);
    this.setStatusOne = db.prepare(`${setStatus} AND rcpt_index = @rcptIndex`);
    const flush = `UPDATE recipients SET next_attempt_at = @now, updated_at = @now
       WHERE status = 'deferred' AND next_attempt_at > @now`;
    this.flushAll = db.prepare(flush);
    this.flushOne = db.prepare(`${flush} AND message_id = @messageId`);
    // The owner stays set, so the next lease reports the row as recovered (delivery may have happened).
    this.expireLeases = db.prepare(
      `UPDATE recipients SET lease_until = 0 WHERE lease_owner IS NOT NULL AND status IN ('queued', 'deferred')`,
    );
    const setFolder = `UPDATE recipients SET folder = @folder, status = 'queued', next_attempt_at = @now,
         updated_at = @now, queued_since = @now
       WHERE message_id = @messageId AND status IN ('queued', 'deferred', 'held', 'quarantined', 'delivered')`;
    this.setFolderAll = db.prepare(setFolder);
    this.setFolderOne = db.prepare(`${setFolder} AND rcpt_index = @rcptIndex`);
    this.selectBodyFile = db.prepare('SELECT body_file FROM messages WHERE id = ?');
    this.deleteRecipients = db.prepare('DELETE FROM recipients WHERE message_id = ?');
    this.deleteMessage = db.prepare('DELETE FROM messages WHERE id = ?');
    this.selectPurgeable = db.prepare(
      `SELECT m.id, m.body_file FROM messages m
       WHERE m.received_at < @cutoff AND NOT EXISTS (
         SELECT 1 FROM recipients r WHERE r.message_id = m.id
           AND (r.status NOT IN (${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')}) OR r.updated_at >= @cutoff))`,
    );
    this.insertUser = db.prepare(
      'INSERT INTO users (address, password_hash, settings, created_at) VALUES (?, ?, ?, ?)',
    );
    this.deleteUser = db.prepare('DELETE FROM users WHERE address = ?');
    this.updateUserRow = db.prepare(
      `UPDATE users SET password_hash = CASE WHEN @setPassword THEN @passwordHash ELSE password_hash END,
         settings = coalesce(@settings, settings)
       WHERE address = @address`,
    );
  }

  /** Runs one operation; throws on failure (the caller rolls back its savepoint). */
  run(request: WriteRequest): OpResult {
    switch (request.op) {
      case 'enqueue':
        return this.enqueue(request.message);
      case 'lease':
        return { value: this.lease(request) };
      case 'complete':
        return this.complete(request.outcomes, request.notices, request.now);
      case 'setStatus':
        return { value: this.setStatus(request) };
      case 'flush':
        return { value: this.flush(request) };
      case 'recoverLeases':
        return { value: this.expireLeases.run().changes };
      case 'setFolder':
        return { value: this.setFolder(request) };
      case 'remove':
        return this.remove(request.messageId);
      case 'purge':
        return this.purge(request.olderThan);
      case 'addUser':
        return this.addUser(request.user);
      case 'removeUser':
        return { value: this.deleteUser.run(request.address).changes > 0 };
      case 'updateUser':
        return { value: this.updateUser(request) };
      case 'close':
        return { value: null };
    }
  }

  private enqueue(message: EncodedMessage): OpResult {
    const body =
      message.body === null
        ? null
        : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    this.insertMessage.run(
      message.id,
      message.sender,
      message.size,
      message.receivedAt,
      message.envid,
      message.ret,
      message.meta,
      body === null ? message.id : null,
      body,
    );
    message.recipients.forEach((rcpt, index) => {
      this.insertRecipient.run(
        message.id,
        index,
        rcpt.address,
        rcpt.orcpt,
        rcpt.notify,
        rcpt.target,
        rcpt.folder,
        rcpt.status,
        message.receivedAt,
        message.receivedAt,
        message.receivedAt,
      );
    });
    return { value: null };
  }

  private lease(request: Request<'lease'>): LeasedRecipient[] {
    const leaseUntil = request.now + request.leaseMs;
    const records = this.selectDue.all({ now: request.now, limit: request.limit });
    return records.map((record) => {
      this.setLease.run(request.owner, leaseUntil, record.message_id, record.rcpt_index);
      return toLeasedRecipient(record, leaseUntil);
    });
  }

  /** Notices first, in the same savepoint as the outcomes: both commit or neither does. */
  private complete(outcomes: DeliveryOutcome[], notices: EncodedMessage[], now: number): OpResult {
    for (const notice of notices) this.enqueue(notice);
    for (const outcome of outcomes) {
      this.recordOutcome.run({
        status: outcome.status,
        nextAttemptAt: outcome.status === 'deferred' ? outcome.nextAttemptAt : null,
        delayNotified: outcome.status === 'deferred' && outcome.delayNotified === true ? 1 : 0,
        reply: outcome.reply,
        now,
        messageId: outcome.messageId,
        rcptIndex: outcome.rcptIndex,
      });
    }
    return { value: null };
  }

  private setStatus(request: Request<'setStatus'>): number {
    const params = {
      to: request.to,
      now: request.now,
      messageId: request.messageId,
      from: JSON.stringify(request.from),
    };
    return request.rcptIndex === null
      ? this.setStatusAll.run(params).changes
      : this.setStatusOne.run({ ...params, rcptIndex: request.rcptIndex }).changes;
  }

  private flush(request: Request<'flush'>): number {
    return request.messageId === null
      ? this.flushAll.run({ now: request.now }).changes
      : this.flushOne.run({ now: request.now, messageId: request.messageId }).changes;
  }

  private setFolder(request: Request<'setFolder'>): number {
    const params = { folder: request.folder, now: request.now, messageId: request.messageId };
    return request.rcptIndex === null
      ? this.setFolderAll.run(params).changes
      : this.setFolderOne.run({ ...params, rcptIndex: request.rcptIndex }).changes;
  }

  private remove(messageId: string): OpResult {
    const row = this.selectBodyFile.get(messageId);
    if (row === undefined) return { value: false };
    this.deleteRecipients.run(messageId);
    this.deleteMessage.run(messageId);
    return { value: true, filesToDiscard: row.body_file === null ? [] : [row.body_file] };
  }

  private purge(olderThan: number): OpResult {
    const files: string[] = [];
    const rows = this.selectPurgeable.all({ cutoff: olderThan });
    for (const row of rows) {
      this.deleteRecipients.run(row.id);
      this.deleteMessage.run(row.id);
      if (row.body_file !== null) files.push(row.body_file);
    }
    return { value: rows.length, filesToDiscard: files };
  }

  private updateUser(request: Request<'updateUser'>): boolean {
    const params = {
      address: request.address,
      setPassword: request.setPassword ? 1 : 0,
      passwordHash: request.passwordHash,
      settings: request.settings,
    };
    return this.updateUserRow.run(params).changes > 0;
  }

  private addUser(user: EncodedUser): OpResult {
    this.insertUser.run(user.address, user.passwordHash, user.settings, user.createdAt);
    return { value: null };
  }
}

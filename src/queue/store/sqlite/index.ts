// The embedded queue store: SQLite in WAL mode, written by one worker thread with group commit,
// read on the caller's thread. See docs/reference/queue.md for the durability argument.
import { dirname, resolve } from 'node:path';
import { OutpostError } from '../../../core/errors.js';
import type {
  DeliveryOutcome,
  LeasedRecipient,
  MessageRow,
  NewMessage,
  QueueFilter,
  QueueStats,
  RecipientRow,
  RecipientStatus,
  Store,
  User,
} from '../types.js';
import { makeDurableDirectory, readBodyFile, writeBodyFile } from './bodies.js';
import { encodeMessage, encodeUser } from './encode.js';
import { writeErrorCode } from './errors.js';
import type { WriterStats } from './protocol.js';
import { QueueReader } from './reader.js';
import { isRecipientStatus } from './rows.js';
import { WriterClient } from './writer-client.js';

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  path: string;
  /** Directory for bodies larger than inlineBodyMax; must not be the database's directory. */
  bodiesDir: string;
  /** Bodies up to this size live in the database row (one fsync for row and body). Default 256 KiB. */
  inlineBodyMax?: number;
  /** A group commit closes at this many writes... Default 256. */
  batchMaxMessages?: number;
  /**
   * ...or this long after its first write arrived. Default 0: a batch closes as soon as the writer is
   * free and holds everything that arrived during the previous commit (measured best for both
   * throughput and latency, docs/reference/queue.md).
   */
  batchMaxWaitMs?: number;
  /** Refuse writes (DISK_FULL) once the database would grow past this size; 0 = no limit. */
  maxDbBytes?: number;
  /**
   * Body files without a row are removed at open once older than this. Default 15 minutes: another
   * process with the queue open may be seconds from committing a fresh one.
   */
  orphanGraceMs?: number;
  /** Checkpoint the WAL after this long without writes. Default 250 ms. */
  idleCheckpointMs?: number;
  /** Checkpoint under sustained load after about this many bytes of WAL. Default 8 MiB. */
  checkpointBytes?: number;
}

/** The SQLite store plus what only it can tell: writer health and group commit counters. */
export interface SqliteStore extends Store {
  /** Why the writer thread stopped (every write now fails), or undefined while it works. */
  readonly failure: string | undefined;
  /** Body files without a row that were removed when the store opened. */
  readonly orphansRemoved: number;
  writerStats(): WriterStats;
  /** Kills the writer thread as a crash would; for fault-injection tests. */
  terminateWriter(): Promise<void>;
}

const DEFAULTS = {
  inlineBodyMax: 256 * 1024,
  batchMaxMessages: 256,
  batchMaxWaitMs: 0,
  maxDbBytes: 0,
  orphanGraceMs: 15 * 60_000,
  idleCheckpointMs: 250,
  checkpointBytes: 8 * 1024 * 1024,
};

/** Opens (creating or migrating) the queue database and starts its writer thread. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const path = resolve(options.path);
  const bodiesDir = resolve(options.bodiesDir);
  // Orphan cleanup deletes unreferenced files in bodiesDir; it must never see the database's own.
  if (bodiesDir === dirname(path)) {
    throw new OutpostError(
      'CONFIG_INVALID',
      'queue bodies directory must differ from the database directory',
    );
  }
  await makeDurableDirectory(dirname(path));
  await makeDurableDirectory(bodiesDir);
  const { client, orphansRemoved } = await WriterClient.start({
    path,
    bodiesDir,
    batchMaxMessages: options.batchMaxMessages ?? DEFAULTS.batchMaxMessages,
    batchMaxWaitMs: options.batchMaxWaitMs ?? DEFAULTS.batchMaxWaitMs,
    maxDbBytes: options.maxDbBytes ?? DEFAULTS.maxDbBytes,
    orphanGraceMs: options.orphanGraceMs ?? DEFAULTS.orphanGraceMs,
    idleCheckpointMs: options.idleCheckpointMs ?? DEFAULTS.idleCheckpointMs,
    checkpointBytes: options.checkpointBytes ?? DEFAULTS.checkpointBytes,
  });
  try {
    const reader = new QueueReader(path);
    return new SqliteQueueStore(
      client,
      reader,
      bodiesDir,
      options.inlineBodyMax ?? DEFAULTS.inlineBodyMax,
      orphansRemoved,
    );
  } catch (error) {
    await client.close();
    throw new OutpostError('QUEUE_UNAVAILABLE', String(error));
  }
}

class SqliteQueueStore implements SqliteStore {
  constructor(
    private readonly writer: WriterClient,
    private readonly reader: QueueReader,
    private readonly bodiesDir: string,
    private readonly inlineBodyMax: number,
    readonly orphansRemoved: number,
  ) {}

  get failure(): string | undefined {
    return this.writer.failed;
  }

  writerStats(): WriterStats {
    return this.writer.writerStats;
  }

  terminateWriter(): Promise<void> {
    return this.writer.terminate();
  }

  async enqueue(message: NewMessage): Promise<void> {
    const encoded = encodeMessage(message);
    if (message.body.byteLength > this.inlineBodyMax) {
      try {
        await writeBodyFile(this.bodiesDir, encoded.id, message.body);
      } catch (error) {
        throw new OutpostError(writeErrorCode(error), `body file for ${encoded.id}: ${String(error)}`);
      }
      await this.writer.call({ op: 'enqueue', message: { ...encoded, body: null } });
      return;
    }
    // One exact copy, transferred: cloning the caller's Buffer could copy its whole (pooled) backing store.
    const body = new Uint8Array(message.body);
    await this.writer.call({ op: 'enqueue', message: { ...encoded, body } }, [body.buffer]);
  }

  lease(options: { now: number; limit: number; leaseMs: number; owner: string }): Promise<LeasedRecipient[]> {
    return this.writer.call({ op: 'lease', ...options });
  }

  async complete(outcomes: DeliveryOutcome[], notices: NewMessage[] = []): Promise<void> {
    if (outcomes.length === 0 && notices.length === 0) return;
    // Notices (DSNs, at most about 1 MiB each) always go inline: the file-body path belongs to
    // enqueue, and an inline body is what makes notice and outcomes one atomic write.
    const encoded = notices.map((notice) => ({
      ...encodeMessage(notice),
      body: new Uint8Array(notice.body),
    }));
    await this.writer.call(
      { op: 'complete', outcomes, notices: encoded, now: Date.now() },
      encoded.map((notice) => notice.body.buffer),
    );
  }

  async body(messageId: string): Promise<Buffer | undefined> {
    const location = this.read(() => this.reader.bodyLocation(messageId));
    if (location === undefined) return undefined;
    if ('inline' in location) return location.inline;
    try {
      return await readBodyFile(this.bodiesDir, location.file);
    } catch (error) {
      throw new OutpostError('QUEUE_UNAVAILABLE', `body file of ${messageId}: ${String(error)}`);
    }
  }

  async message(messageId: string): Promise<MessageRow | undefined> {
    return this.read(() => this.reader.message(messageId));
  }

  async list(filter: QueueFilter): Promise<RecipientRow[]> {
    return this.read(() => this.reader.list(filter));
  }

  async stats(): Promise<QueueStats> {
    const stats = this.read(() => this.reader.stats());
    const writer = this.writer.writerStats;
    return { ...stats, commits: { transactions: writer.commits, operations: writer.operations } };
  }

  setStatus(
    messageId: string,
    from: RecipientStatus[],
    to: RecipientStatus,
    rcptIndex?: number,
  ): Promise<number> {
    if (!isRecipientStatus(to) || !from.every(isRecipientStatus)) {
      return Promise.reject(new OutpostError('BAD_REQUEST', 'unknown recipient status'));
    }
    return this.writer.call({
      op: 'setStatus',
      messageId,
      from,
      to,
      rcptIndex: rcptIndex ?? null,
      now: Date.now(),
    });
  }

  recoverLeases(): Promise<number> {
    return this.writer.call({ op: 'recoverLeases' });
  }

  setFolder(messageId: string, folder: string, rcptIndex?: number): Promise<number> {
    return this.writer.call({
      op: 'setFolder',
      messageId,
      folder,
      rcptIndex: rcptIndex ?? null,
      now: Date.now(),
    });
  }

  flush(messageId?: string): Promise<number> {
    return this.writer.call({ op: 'flush', messageId: messageId ?? null, now: Date.now() });
  }

  remove(messageId: string): Promise<boolean> {
    return this.writer.call({ op: 'remove', messageId });
  }

  purge(olderThan: number): Promise<number> {
    return this.writer.call({ op: 'purge', olderThan });
  }

  async addUser(user: User): Promise<void> {
    await this.writer.call({ op: 'addUser', user: encodeUser(user) });
  }

  removeUser(address: string): Promise<boolean> {
    return this.writer.call({ op: 'removeUser', address });
  }

  async getUser(address: string): Promise<User | undefined> {
    return this.read(() => this.reader.user(address));
  }

  async listUsers(): Promise<User[]> {
    return this.read(() => this.reader.users());
  }

  updateUser(address: string, changes: Partial<Pick<User, 'passwordHash' | 'settings'>>): Promise<boolean> {
    return this.writer.call({
      op: 'updateUser',
      address,
      setPassword: 'passwordHash' in changes,
      passwordHash: changes.passwordHash ?? null,
      settings: changes.settings === undefined ? null : JSON.stringify(changes.settings),
    });
  }

  async close(): Promise<void> {
    // Readers first, so the writer's connection is the last one and can fold the WAL back in.
    this.reader.close();
    await this.writer.close();
  }

  /** Runs a read; SQLite errors become QUEUE_UNAVAILABLE like every other store failure. */
  private read<T>(query: () => T): T {
    try {
      return query();
    } catch (error) {
      throw new OutpostError('QUEUE_UNAVAILABLE', String(error));
    }
  }
}

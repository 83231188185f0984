// The queue's writer thread: owns the only write connection, so the main thread never waits on
// disk. Writes that arrive close together share one transaction and one WAL fsync (group commit);
// each caller hears back only after that commit. Started by writer-client.ts via writer-bootstrap.mjs.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import Database, { type Database as Connection, type Statement } from 'better-sqlite3';
import { describeError } from '../../../core/errors.js';
import { discardBodyFile, removeOrphanBodies, syncDirectory } from './bodies.js';
import { Checkpoints } from './checkpoints.js';
import { writeErrorCode } from './errors.js';
import type { WriteEnvelope, WriteResponse, WriterEvent, WriterSettings, WriterStats } from './protocol.js';
import { configureWriter, migrate } from './schema.js';
import { type OpResult, WriteOps } from './write-ops.js';

// Rough WAL growth, only used to decide when a checkpoint is due: each commit rewrites the few
// table and index pages it touched (measured ~32 KB for a one-message commit), each operation adds
// a little, an inline body its size.
const WAL_BYTES_PER_COMMIT = 24 * 1024;
const WAL_BYTES_PER_OPERATION = 1024;

type OpOutcome = { ok: true; result: OpResult } | { ok: false; error: unknown };

class Writer {
  private pending: WriteEnvelope[] = [];
  private batchTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly stats = { commits: 0, operations: 0 };
  private readonly checkpoints: Checkpoints;
  private readonly tx: Record<
    'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo',
    Statement
  >;

  constructor(
    private readonly db: Connection,
    private readonly ops: WriteOps,
    private readonly settings: WriterSettings,
    private readonly port: MessagePort,
  ) {
    this.checkpoints = new Checkpoints(
      db,
      settings.path,
      settings.checkpointBytes,
      settings.idleCheckpointMs,
    );
    this.tx = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT op'),
      release: db.prepare('RELEASE op'),
      rollbackTo: db.prepare('ROLLBACK TO op'),
    };
  }

  currentStats(): WriterStats {
    return { ...this.stats, checkpoints: this.checkpoints.done };
  }

  receive(envelope: WriteEnvelope): void {
    this.pending.push(envelope);
    this.checkpoints.busy();
    if (envelope.request.op === 'close' || this.pending.length >= this.settings.batchMaxMessages) {
      this.runBatch();
    } else if (this.batchTimer === undefined) {
      // Wait 0 still batches: everything that arrived while the last commit ran is already here.
      this.batchTimer =
        this.settings.batchMaxWaitMs > 0
          ? setTimeout(() => this.runBatch(), this.settings.batchMaxWaitMs)
          : setImmediate(() => this.runBatch());
    }
  }

  private clearBatchTimer(): void {
    if (this.batchTimer === undefined) return;
    clearTimeout(this.batchTimer as NodeJS.Timeout);
    clearImmediate(this.batchTimer as NodeJS.Immediate);
    this.batchTimer = undefined;
  }

  private runBatch(): void {
    this.clearBatchTimer();
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const responses = this.execute(batch);
    this.port.postMessage({
      type: 'results',
      results: responses,
      stats: this.currentStats(),
    } satisfies WriterEvent);
    if (batch.some((envelope) => envelope.request.op === 'close')) {
      this.shutdown();
      return;
    }
    if (this.pending.length === 0) this.checkpoints.idle();
    else if (this.batchTimer === undefined) this.batchTimer = setImmediate(() => this.runBatch());
  }

  /** Runs a batch in one transaction; each operation under a savepoint so one bad write fails alone. */
  private execute(batch: WriteEnvelope[]): WriteResponse[] {
    const outcomes: OpOutcome[] = [];
    let batchError: unknown;
    // Set once COMMIT was attempted and failed in a way that may still have reached the WAL.
    let commitUncertain = false;
    try {
      // Body files were written and synced by the store; their directory entries must be durable too.
      if (batch.some(isFileBodyEnqueue)) syncDirectory(this.settings.bodiesDir);
      this.tx.begin.run();
      for (const envelope of batch) {
        this.tx.savepoint.run();
        try {
          const result = this.ops.run(envelope.request);
          this.tx.release.run();
          outcomes.push({ ok: true, result });
        } catch (error) {
          // Some errors (SQLITE_FULL, I/O) roll back the whole transaction, not just the savepoint.
          if (!this.db.inTransaction) throw error;
          this.tx.rollbackTo.run();
          this.tx.release.run();
          outcomes.push({ ok: false, error });
        }
      }
      try {
        this.tx.commit.run();
      } catch (error) {
        commitUncertain = writeErrorCode(error) !== 'DISK_FULL';
        throw error;
      }
    } catch (error) {
      batchError = error;
      if (this.db.inTransaction) this.tx.rollback.run();
    }
    if (batchError !== undefined) return this.failBatch(batch, batchError, commitUncertain);
    this.stats.commits += 1;
    this.stats.operations += batch.length;
    this.checkpoints.committed(WAL_BYTES_PER_COMMIT);
    return batch.map((envelope, index) => this.respond(envelope, outcomes[index]));
  }

  private respond(envelope: WriteEnvelope, outcome: OpOutcome | undefined): WriteResponse {
    if (outcome?.ok) {
      for (const name of outcome.result.filesToDiscard ?? []) this.discard(name);
      this.checkpoints.committed(WAL_BYTES_PER_OPERATION + bodyBytes(envelope));
      return { id: envelope.id, ok: true, value: outcome.result.value };
    }
    const error = outcome?.error ?? new Error('operation did not run');
    // The savepoint was rolled back, so the row never existed: its body file is garbage now.
    if (isFileBodyEnqueue(envelope)) this.discard(envelopeMessageId(envelope));
    return { id: envelope.id, ok: false, code: writeErrorCode(error), detail: describeError(error) };
  }

  private failBatch(batch: WriteEnvelope[], error: unknown, commitUncertain: boolean): WriteResponse[] {
    const code = writeErrorCode(error);
    const detail = describeError(error);
    return batch.map((envelope) => {
      // If the commit might have landed, its body files stay; the next open removes them if not.
      if (!commitUncertain && isFileBodyEnqueue(envelope)) this.discard(envelopeMessageId(envelope));
      return { id: envelope.id, ok: false, code, detail };
    });
  }

  private discard(name: string): void {
    try {
      discardBodyFile(this.settings.bodiesDir, name);
    } catch {
      // Left behind, it is an orphan: removed at the next open. Never worth failing a write for.
    }
  }

  private shutdown(): void {
    this.clearBatchTimer();
    this.port.removeAllListeners('message');
    // The writer's connection closes last, so SQLite folds the WAL back in and removes it.
    this.checkpoints.close(() => {
      this.db.close();
      this.port.close();
    });
  }
}

function isFileBodyEnqueue(envelope: WriteEnvelope): boolean {
  return envelope.request.op === 'enqueue' && envelope.request.message.body === null;
}

function envelopeMessageId(envelope: WriteEnvelope): string {
  return envelope.request.op === 'enqueue' ? envelope.request.message.id : '';
}

function bodyBytes(envelope: WriteEnvelope): number {
  return envelope.request.op === 'enqueue' ? (envelope.request.message.body?.byteLength ?? 0) : 0;
}

function start(port: MessagePort, settings: WriterSettings): void {
  let db: Connection | undefined;
  try {
    db = new Database(settings.path);
    configureWriter(db, settings.maxDbBytes);
    migrate(db);
    const hasBodyFile = db.prepare<[string], { found: number }>(
      'SELECT 1 AS found FROM messages WHERE id = ? AND body_file IS NOT NULL',
    );
    const orphansRemoved = removeOrphanBodies(
      settings.bodiesDir,
      settings.orphanGraceMs,
      (name) => hasBodyFile.get(name) !== undefined,
    );
    const writer = new Writer(db, new WriteOps(db), settings, port);
    port.on('message', (envelope: WriteEnvelope) => writer.receive(envelope));
    port.postMessage({ type: 'ready', stats: writer.currentStats(), orphansRemoved } satisfies WriterEvent);
  } catch (error) {
    db?.close();
    port.postMessage({ type: 'fatal', detail: describeError(error) } satisfies WriterEvent);
    port.close();
  }
}

if (parentPort !== null) start(parentPort, workerData as WriterSettings);

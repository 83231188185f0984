// Decides when the WAL is folded back into the database file, and keeps that off the commit path
// under load. Measured (docs/reference/queue.md): checkpoints on the writer thread while writes
// kept coming stalled the commits queued behind them (p99 enqueue latency 11 ms -> 37-60 ms);
// run beside the writer on their own connection, they cost nothing visible.
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

interface CheckpointReply {
  ok: boolean;
}

export class Checkpoints {
  private thread: Worker | undefined;
  private threadBroken = false;
  private inFlight = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private walBytes = 0;
  /** Checkpoints completed since the store opened. */
  done = 0;

  constructor(
    private readonly db: Database,
    private readonly path: string,
    private readonly thresholdBytes: number,
    private readonly idleMs: number,
  ) {}

  /** Counts what a commit added to the WAL; starts a background checkpoint once enough piled up. */
  committed(bytes: number): void {
    this.walBytes += bytes;
    if (this.walBytes >= this.thresholdBytes && !this.inFlight) this.inBackground();
  }

  /** The writer has nothing to do: checkpoint on its own thread after idleMs unless writes resume. */
  idle(): void {
    this.cancelIdle();
    if (this.walBytes > 0 && !this.inFlight) this.idleTimer = setTimeout(() => this.here(), this.idleMs);
  }

  busy(): void {
    this.cancelIdle();
  }

  /** Stops the checkpoint thread, if one was started; calls back once its connection is closed. */
  close(then: () => void): void {
    this.cancelIdle();
    const thread = this.thread;
    if (thread === undefined) {
      then();
      return;
    }
    thread.once('exit', then);
    thread.postMessage('close');
  }

  private inBackground(): void {
    this.walBytes = 0;
    const thread = this.startThread();
    if (thread === undefined) {
      this.here();
      return;
    }
    this.inFlight = true;
    thread.postMessage('checkpoint');
  }

  /** The checkpoint thread, started on first need (a store that never gets busy never pays for it). */
  private startThread(): Worker | undefined {
    if (this.thread !== undefined || this.threadBroken) return this.thread;
    const thread = new Worker(new URL('./checkpointer.mjs', import.meta.url), {
      workerData: { path: this.path },
    });
    thread.on('message', (reply: CheckpointReply | { ready: true }) => {
      if (!('ok' in reply)) return;
      this.inFlight = false;
      // A checkpoint beside a busy writer never catches up with it, and the WAL restarts from its
      // beginning only once fully checkpointed; finishing here copies just the short tail written
      // meanwhile, so the WAL stays bounded under sustained load.
      if (reply.ok) this.here();
    });
    // Without the thread checkpoints still happen, on the writer thread: slower p99, same data.
    const drop = () => {
      this.thread = undefined;
      this.threadBroken = true;
      this.inFlight = false;
    };
    thread.on('error', drop);
    thread.on('exit', drop);
    this.thread = thread;
    return thread;
  }

  private here(): void {
    this.cancelIdle();
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.done += 1;
      this.walBytes = 0;
    } catch {
      // A failed checkpoint only leaves the WAL longer; the next one retries.
    }
  }

  private cancelIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

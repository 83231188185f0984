// The main thread's side of the writer thread: sends write requests, matches the answers, and
// turns a dead writer into rejections (never a hang, never a false success).
import { type Transferable, Worker } from 'node:worker_threads';
import { OutpostError } from '../../../core/errors.js';
import type {
  WriteEnvelope,
  WriteOp,
  WriteRequest,
  WriteResults,
  WriterEvent,
  WriterSettings,
  WriterStats,
} from './protocol.js';

interface Pending {
  resolve(value: WriteResults[WriteOp]): void;
  reject(error: Error): void;
}

export class WriterClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: string | undefined;
  private closing = false;
  private stats: WriterStats = { commits: 0, operations: 0, checkpoints: 0 };
  private readonly exited: Promise<void>;

  private constructor(private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (event: WriterEvent) => this.onEvent(event));
    worker.on('error', (error) => this.fail(`queue writer crashed: ${error.message}`));
    worker.on('exit', (code) => this.fail(`queue writer exited (code ${code})`));
  }

  /** Starts the writer thread; resolves once its database is open, migrated and cleaned. */
  static start(settings: WriterSettings): Promise<{ client: WriterClient; orphansRemoved: number }> {
    // A plain-JS bootstrap registers tsx inside the thread, whichever way the process loaded TypeScript.
    const worker = new Worker(new URL('./writer-bootstrap.mjs', import.meta.url), { workerData: settings });
    return new Promise((resolve, reject) => {
      // Only our own listeners may be removed: Worker keeps internal ones that ref its message port.
      const onMessage = (event: WriterEvent) => {
        stopListening();
        if (event.type !== 'ready') {
          fail(event.type === 'fatal' ? event.detail : 'unexpected first message from queue writer');
          return;
        }
        const client = new WriterClient(worker);
        client.stats = event.stats;
        worker.unref();
        resolve({ client, orphansRemoved: event.orphansRemoved });
      };
      const onError = (error: Error) => {
        stopListening();
        fail(error.message);
      };
      const onExit = (code: number) => {
        stopListening();
        fail(`queue writer exited during start (code ${code})`);
      };
      const stopListening = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const fail = (detail: string) => {
        void worker.terminate();
        reject(new OutpostError('QUEUE_UNAVAILABLE', detail));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Why the writer is unusable, or undefined while it works. */
  get failed(): string | undefined {
    return this.failure;
  }

  get writerStats(): WriterStats {
    return { ...this.stats };
  }

  /** Sends one write; resolves after the transaction that carried it has committed. */
  call<K extends WriteOp>(
    request: Extract<WriteRequest, { op: K }>,
    transfer: Transferable[] = [],
  ): Promise<WriteResults[K]> {
    if (this.failure !== undefined)
      return Promise.reject(new OutpostError('QUEUE_UNAVAILABLE', this.failure));
    if (this.closing) return Promise.reject(new OutpostError('QUEUE_UNAVAILABLE', 'queue store is closing'));
    const id = this.nextId++;
    return new Promise<WriteResults[K]>((resolve, reject) => {
      // The answer to a K request carries WriteResults[K]; the id pairs them (see writer.ts).
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ id, request } satisfies WriteEnvelope, transfer);
      } catch (error) {
        this.settle(id);
        reject(new OutpostError('BAD_REQUEST', `cannot pass to queue writer: ${String(error)}`));
      }
    });
  }

  /** Commits what is queued, closes the database, and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.failure === undefined && !this.closing) {
      const done = this.call({ op: 'close' });
      this.closing = true;
      await done;
    }
    this.closing = true;
    // Keep the process alive until the thread has really finished closing the database.
    this.worker.ref();
    await this.exited;
  }

  /** Kills the writer thread at once, as a crash would (fault injection in tests). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }

  private onEvent(event: WriterEvent): void {
    if (event.type === 'fatal') {
      this.fail(event.detail);
      return;
    }
    if (event.type !== 'results') return;
    this.stats = event.stats;
    for (const response of event.results) {
      const waiter = this.settle(response.id);
      if (waiter === undefined) continue;
      if (response.ok) waiter.resolve(response.value);
      else waiter.reject(new OutpostError(response.code, response.detail));
    }
  }

  private settle(id: number): Pending | undefined {
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    return waiter;
  }

  private fail(reason: string): void {
    if (this.closing && this.pending.size === 0) return;
    this.failure ??= reason;
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      waiter.reject(new OutpostError('QUEUE_UNAVAILABLE', this.failure));
    }
    this.worker.unref();
  }
}

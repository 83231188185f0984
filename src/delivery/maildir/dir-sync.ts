// Group commit for directory fsyncs: concurrent deliveries into one Maildir folder share syncs of
// its new/ directory instead of each paying for open + fsync + close (bench/results/accept.md).
import { syncDirectory } from './mailbox.js';

interface Waiters {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiters(): Waiters {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/**
 * Syncs directories so that every caller's earlier renames are durable when its promise resolves.
 * A sync already running may have started before the caller's rename, so callers arriving during
 * one wait for the next, which starts when it ends and serves all of them at once.
 */
export class DirectorySyncs {
  /** Directories with a sync running, and who waits for the one after it. */
  private readonly running = new Map<string, { next: Waiters | undefined }>();

  constructor(private readonly syncOnce: (dir: string) => Promise<void> = syncDirectory) {}

  sync(dir: string): Promise<void> {
    const state = this.running.get(dir);
    if (state === undefined) {
      this.running.set(dir, { next: undefined });
      return this.run(dir);
    }
    state.next ??= waiters();
    return state.next.promise;
  }

  private async run(dir: string): Promise<void> {
    try {
      await this.syncOnce(dir);
    } finally {
      this.startNext(dir);
    }
  }

  private startNext(dir: string): void {
    const state = this.running.get(dir);
    const next = state?.next;
    if (state === undefined || next === undefined) {
      this.running.delete(dir);
      return;
    }
    state.next = undefined;
    this.run(dir).then(next.resolve, next.reject);
  }
}

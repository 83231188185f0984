// Delivery limits: how many deliveries run at once (per destination and in total) and how many
// messages a destination gets per minute (the seeds' "delayed transmission").

const WINDOW_MS = 60_000;

/** Messages per destination in a sliding one-minute window. */
export class RateLimiter {
  private readonly sent = new Map<string, number[]>();

  constructor(private readonly clock: () => number) {}

  /**
   * Counts one message for the destination, or returns false (counting nothing) when it already had
   * `perMinute` in the last minute; 0 = unlimited.
   */
  take(destination: string, perMinute: number): boolean {
    if (perMinute <= 0) return true;
    const now = this.clock();
    const recent = (this.sent.get(destination) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length >= perMinute) {
      this.sent.set(destination, recent);
      return false;
    }
    recent.push(now);
    this.sent.set(destination, recent);
    return true;
  }
}

/** Counting semaphore whose waiters give up after a time, so a batch never waits on itself forever. */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  get busy(): number {
    return this.used;
  }

  /** Resolves to a release function, or undefined when no slot came free within waitMs. */
  acquire(waitMs: number): Promise<(() => void) | undefined> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        clearTimeout(timer);
        this.used++;
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        resolve(undefined);
      }, waitMs);
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      this.waiting.shift()?.();
    };
  }
}

/** A slot per destination (created on demand, dropped when idle) inside one shared total. */
export class DestinationSlots {
  private readonly perDestination = new Map<string, Slots>();
  private readonly total: Slots;

  constructor(
    private readonly maxPerDestination: number,
    maxTotal: number,
  ) {
    this.total = new Slots(maxTotal);
  }

  /** Both slots (destination first, then total), or undefined when either stays full for waitMs. */
  async acquire(destination: string, waitMs: number): Promise<(() => void) | undefined> {
    let slots = this.perDestination.get(destination);
    if (slots === undefined) {
      slots = new Slots(this.maxPerDestination);
      this.perDestination.set(destination, slots);
    }
    const own = slots;
    const releaseOwn = await own.acquire(waitMs);
    if (releaseOwn === undefined) return undefined;
    const releaseTotal = await this.total.acquire(waitMs);
    const release = (): void => {
      releaseTotal?.();
      releaseOwn();
      if (own.busy === 0 && this.perDestination.get(destination) === own)
        this.perDestination.delete(destination);
    };
    if (releaseTotal === undefined) {
      release();
      return undefined;
    }
    return release;
  }
}

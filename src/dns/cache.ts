interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A bounded map whose entries expire. Eviction is least-recently-used: a Map keeps insertion
 * order, a hit re-inserts its entry, so the first key is always the one to drop.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly maxEntries: number) {}

  /** The live value for `key` at time `now` (ms), or undefined. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores a value until `expiresAt` (ms); a value already expired is not stored. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    this.entries.delete(key);
    if (expiresAt <= now || this.maxEntries <= 0) return;
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

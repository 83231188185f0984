import type Database from 'better-sqlite3';

const SERIAL_MODULUS = 2 ** 32;

/**
 * The plumbing of the trust list database: prepared statements, one transaction per change with
 * its audit rows, the change counter (SOA serial) and change listeners.
 */
export class StoreBase {
  protected readonly db: Database.Database;
  protected readonly now: () => Date;
  private readonly listeners = new Set<() => void>();
  private readonly statements = new Map<string, Database.Statement>();

  protected constructor(db: Database.Database, now: () => Date) {
    this.db = db;
    this.now = now;
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }

  /** Calls `listener` after every committed change made through this store; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counts changes (wraps at 2^32): the zone's SOA serial. */
  serial(): number {
    const row = this.sql("SELECT value FROM meta WHERE key = 'serial'").get() as
      | { value: string }
      | undefined;
    return row ? Number(row.value) : 0;
  }

  /** The database file (serving workers open it read-only). */
  file(): string {
    return this.db.name;
  }

  /** The store's clock (what its timestamps say now). */
  time(): Date {
    return this.now();
  }

  /** SQLite's data_version: changes when another connection (another process) commits. */
  dataVersion(): number {
    return Number(this.db.pragma('data_version', { simple: true }));
  }

  /** A prepared statement, prepared once per SQL text. */
  protected sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  protected timestamp(): string {
    return this.now().toISOString();
  }

  protected audit(actor: string, action: string, subject: string, before: unknown, after: unknown): void {
    this.sql('INSERT INTO audit (at, actor, action, subject, before, after) VALUES (?, ?, ?, ?, ?, ?)').run(
      this.timestamp(),
      actor,
      action,
      subject,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
    );
  }

  /** Runs `change` in one transaction, bumps the serial, then tells the listeners. */
  protected write<T>(change: () => T): T {
    const result = this.db.transaction(() => {
      const value = change();
      this.sql(
        `INSERT INTO meta (key, value) VALUES ('serial', '1')
           ON CONFLICT (key) DO UPDATE SET value = (CAST(value AS INTEGER) + 1) % ${SERIAL_MODULUS}`,
      ).run();
      return value;
    })();
    for (const listener of this.listeners) listener();
    return result;
  }
}

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * How much a state database's commits must survive: FULL for state whose loss a user would notice
 * (held mail, a send journal), NORMAL where a lost last commit only repeats harmless work.
 */
export type Durability = 'FULL' | 'NORMAL';

/**
 * Opens (creating it and its folder when missing) one of outpost's small SQLite state files: WAL,
 * the given durability, and a busy timeout because the server and CLI commands share the file.
 */
export function openStateDatabase(
  file: string,
  durability: Durability,
  busyTimeoutMs = 2000,
): Database.Database {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability}`);
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  return db;
}

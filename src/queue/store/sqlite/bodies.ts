// Message bodies too large to sit inline in the database live in bodiesDir, one file per message,
// named by the queue id. A file is complete and synced before the row that names it commits, so a
// row never points at a missing or partial file; a file without a row is garbage from a crash.
import { closeSync, promises as fsp, fsyncSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isNotFound } from '../../../core/errors.js';

/** Message ids that may name a body file: letters, digits, '-', '_' (no dots, no separators). */
export const BODY_FILE_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;

/**
 * Writes a body file and syncs it. Exclusive create: a duplicate id can never overwrite the body
 * of a message already queued. A failed write leaves no file behind.
 */
export async function writeBodyFile(bodiesDir: string, id: string, body: Uint8Array): Promise<void> {
  const path = join(bodiesDir, id);
  const handle = await fsp.open(path, 'wx', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fsp.unlink(path).catch(() => undefined);
    throw error;
  }
}

/** Reads a body file; undefined when it is gone (its message was removed meanwhile). */
export async function readBodyFile(bodiesDir: string, name: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(join(bodiesDir, name));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Creates a directory (and missing parents) durably: the parents that gained an entry are synced,
 * and the immediate parent always (someone else may have just created the directory without
 * syncing), so a crash after the first message cannot lose the directory its body went to.
 */
export async function makeDurableDirectory(dir: string): Promise<void> {
  const first = (await fsp.mkdir(dir, { recursive: true, mode: 0o700 })) ?? dir;
  for (let current = dirname(dir); ; current = dirname(current)) {
    syncDirectory(current);
    if (current === dirname(first) || current === dirname(current)) break;
  }
}

/** Syncs a directory so the names created in it (or removed from it) are durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes a body file whose row is gone or never committed; a missing file is fine. */
export function discardBodyFile(bodiesDir: string, name: string): void {
  try {
    unlinkSync(join(bodiesDir, name));
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Deletes files in bodiesDir that no row refers to (crash between writing a body and committing
 * its row). Only names shaped like queue ids are considered, so a misplaced file of another kind
 * is never touched, and only files older than graceMs: another process may have the same queue
 * open (`outpost queue list` beside the server) with a body written and its commit seconds away.
 * Returns how many were removed.
 */
export function removeOrphanBodies(
  bodiesDir: string,
  graceMs: number,
  isReferenced: (name: string) => boolean,
): number {
  const cutoff = Date.now() - graceMs;
  let removed = 0;
  for (const entry of readdirSync(bodiesDir, { withFileTypes: true })) {
    if (!entry.isFile() || !BODY_FILE_ID.test(entry.name) || isReferenced(entry.name)) continue;
    if (statSync(join(bodiesDir, entry.name)).mtimeMs > cutoff) continue;
    discardBodyFile(bodiesDir, entry.name);
    removed += 1;
  }
  if (removed > 0) syncDirectory(bodiesDir);
  return removed;
}

// Creating Maildirs durably and looking inside them.
import { mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OutpostError } from '../../core/errors.js';
import { type FolderPath, folderPath } from './paths.js';

const SUBDIRS = ['tmp', 'new', 'cur'] as const;

/** Folders every new mailbox gets besides INBOX (quarantined mail goes to Junk). */
const DEFAULT_FOLDERS = ['Junk'];

/** fsync of a directory: makes the names created in (or renamed into) it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates tmp/, new/ and cur/ in a folder directory (and any missing directories above it),
 * then syncs every directory that gained an entry, so the folder survives a crash.
 */
export async function createFolder(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  for (const sub of SUBDIRS) await mkdir(join(dir, sub), { recursive: true });
  await syncDirectory(dir);
  if (first === undefined) return;
  // mkdir returned the first directory it had to create; each parent from dir up to above it changed.
  const stop = dirname(first);
  for (let current = dirname(dir); ; current = dirname(current)) {
    await syncDirectory(current);
    if (current === stop || current === dirname(current)) break;
  }
}

function pathOrThrow(root: string, address: string, folder?: string): FolderPath {
  const path = folderPath(root, address, folder);
  if (path === undefined)
    throw new OutpostError('BAD_ADDRESS', `no safe mailbox path for ${JSON.stringify(address)}`);
  return path;
}

/**
 * Creates the Maildir of a local address (INBOX and the default folders, durably) and returns its
 * directory. Existing directories are left as they are. Used by `outpost user add`.
 */
export async function ensureMailbox(root: string, address: string): Promise<string> {
  const inbox = pathOrThrow(root, address);
  await createFolder(inbox.dir);
  for (const folder of DEFAULT_FOLDERS) await createFolder(pathOrThrow(root, address, folder).dir);
  return inbox.mailbox;
}

/** The message files of a mailbox folder (new/ then cur/, each sorted); for tests and operators. */
export async function listMaildir(root: string, address: string, folder = ''): Promise<string[]> {
  const { dir } = pathOrThrow(root, address, folder);
  const files: string[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    files.push(...names.sort().map((name) => join(dir, sub, name)));
  }
  return files;
}

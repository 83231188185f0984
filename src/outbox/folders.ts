// The Maildir side of the Outbox: which message files wait in it, and moving them on durably.
import { chown, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { systemErrorCode } from '../core/errors.js';
import { createFolder, syncDirectory } from '../delivery/maildir/mailbox.js';
import type { FolderPath } from '../delivery/maildir/paths.js';

/** A message file in a folder's new/ or cur/. */
export interface MessageFile {
  /** Full path of the file. */
  path: string;
  /** The name without the ":2,<flags>" info: what the file is called wherever it moves. */
  base: string;
  /** Maildir flags ("S", "DS"...); '' for a file in new/. */
  flags: string;
}

const INFO = ':2,';

/** Splits "<base>:2,<flags>" (Maildir's info suffix); a name without it has no flags. */
export function splitInfo(name: string): { base: string; flags: string } {
  const at = name.indexOf(INFO);
  return at < 0
    ? { base: name, flags: '' }
    : { base: name.slice(0, at), flags: name.slice(at + INFO.length) };
}

/** The message files in new/ and cur/ of a folder (dot files are not messages); [] when it does not exist. */
export async function messageFiles(folderDir: string): Promise<MessageFile[]> {
  const files: MessageFile[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(folderDir, sub);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT') continue;
      throw error;
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      files.push({ path: join(dir, name), ...splitInfo(name) });
    }
  }
  return files;
}

/**
 * Run as root, what outpost creates in a mailbox gets the mailbox's owner, so that the IMAP server
 * reading it as that user (Dovecot's mail_uid) can open the notice and index the new folder.
 */
async function adoptMailboxOwner(folder: FolderPath, paths: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owner = await stat(folder.mailbox);
  for (const path of paths) await chown(path, owner.uid, owner.gid);
}

/** Creates a folder (tmp/, new/, cur/) that its mailbox's owner can use. */
export async function ensureFolder(folder: FolderPath): Promise<void> {
  await createFolder(folder.dir);
  const paths = ['tmp', 'new', 'cur'].map((sub) => join(folder.dir, sub));
  await adoptMailboxOwner(folder, folder.dir === folder.mailbox ? paths : [folder.dir, ...paths]);
}

/** Flags in the order Maildir requires (ASCII), each once. */
function normalFlags(flags: string): string {
  return [...new Set(flags)].sort().join('');
}

/**
 * Moves a message file into another folder's cur/ with the given flags, creating the folder when
 * missing, and syncs both directories so the move survives a crash.
 */
export async function moveToFolder(file: MessageFile, folder: FolderPath, flags: string): Promise<string> {
  const target = join(folder.dir, 'cur', `${file.base}${INFO}${normalFlags(flags)}`);
  try {
    await rename(file.path, target);
  } catch (error) {
    if (systemErrorCode(error) !== 'ENOENT') throw error;
    await ensureFolder(folder);
    await rename(file.path, target);
  }
  await syncDirectory(dirname(target));
  await syncDirectory(dirname(file.path));
  return target;
}

/**
 * Writes a message into a folder's new/ (tmp/, fsync, rename, sync). The same name again replaces
 * the earlier copy, so a notice repeated after a crash does not appear twice.
 */
export async function writeMessage(folder: FolderPath, name: string, message: Buffer): Promise<string> {
  await ensureFolder(folder);
  const tmpPath = join(folder.dir, 'tmp', name);
  const handle = await open(tmpPath, 'w', 0o600);
  try {
    await handle.writeFile(message);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmpPath).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await adoptMailboxOwner(folder, [tmpPath]);
  const target = join(folder.dir, 'new', basename(name));
  await rename(tmpPath, target);
  await syncDirectory(dirname(target));
  return target;
}

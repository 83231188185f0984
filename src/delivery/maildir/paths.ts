// Where a recipient's mail lives, and what its message file is called. Every path is checked
// to stay inside the Maildir root, whatever the address contains.
import { join, resolve, sep } from 'node:path';
import { parseAddress } from '../../core/address.js';

/** A Maildir folder: the directory holding tmp/, new/ and cur/. */
export interface FolderPath {
  /** The mailbox (INBOX) directory: <root>/<domain>/<local>. */
  mailbox: string;
  /** The folder directory: the mailbox itself, or <mailbox>/.<folder> (Maildir++). */
  dir: string;
}

// Control characters (NUL included), path separators, or a name that could climb ('.', '..', '.x').
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f/\\]|\.\./;

function safeComponent(text: string): boolean {
  return text !== '' && !text.startsWith('.') && !UNSAFE.test(text);
}

/**
 * The folder directory for an address, or undefined when the address or folder name could escape
 * the root (separators, '..', NUL, a leading '.'). The local part is lower-cased.
 */
export function folderPath(root: string, address: string, folder = ''): FolderPath | undefined {
  const parsed = parseAddress(address);
  if (parsed === undefined) return undefined;
  const local = parsed.local.toLowerCase();
  if (!safeComponent(local) || !safeComponent(parsed.domain)) return undefined;
  if (folder !== '' && !safeComponent(folder)) return undefined;
  const base = resolve(root);
  const mailbox = join(base, parsed.domain, local);
  const dir = folder === '' ? mailbox : join(mailbox, `.${folder}`);
  // Belt and braces: the checks above already exclude every way out of the root.
  if (!dir.startsWith(base + sep)) return undefined;
  return { mailbox, dir };
}

/**
 * The file name of one recipient's copy, derived from the queue id and recipient index so that a
 * delivery repeated after a crash replaces its earlier copy instead of adding a second one.
 * Maildir reserves '/' and ':' in names; the host name has them escaped as the spec says.
 */
export function messageFileName(
  receivedAt: number,
  queueId: string,
  rcptIndex: number,
  hostname: string,
): string {
  const host = hostname.replaceAll('/', '\\057').replaceAll(':', '\\072');
  return `${Math.floor(receivedAt / 1000)}.Q${queueId}R${rcptIndex}.${host}`;
}

// Local delivery into Maildirs: prepare writes and syncs tmp/<name>, commit renames it into new/
// and syncs new/. The name comes from the queue id and recipient index, so repeating a delivery
// (after a crash between rename and the queue update) replaces the copy instead of adding one.
import { open, opendir, rename, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { systemErrorCode } from '../../core/errors.js';
import { errorReply, type Reply, reply } from '../../core/reply.js';
import type { LeasedRecipient } from '../../queue/store/types.js';
import type { DeliveryBatch, DeliveryTarget, PreparedDelivery, RecipientResult } from '../types.js';
import { DirectorySyncs } from './dir-sync.js';
import { createFolder } from './mailbox.js';
import { folderPath, messageFileName } from './paths.js';

export interface MaildirTargetOptions {
  /** Directory holding <domain>/<local>/ mailboxes. */
  root: string;
  /** Host name in message file names; keep it stable, it is part of what makes redelivery idempotent. */
  hostname?: string;
  /** Target name in the queue; default 'maildir'. */
  name?: string;
}

/** A recipient whose copy sits in tmp/, ready to be renamed into new/. */
interface Staged {
  rcptIndex: number;
  tmpPath: string;
  newDir: string;
  name: string;
}

const DELIVERED = reply(250, '2.0.0', 'Delivered to mailbox');

/** A file system failure as a temporary reply: nothing about a write failure is permanent. */
function writeFailure(error: unknown): Reply {
  const code = systemErrorCode(error);
  if (code === 'ENOSPC') return errorReply('DISK_FULL');
  if (code === 'EDQUOT') return reply(452, '4.2.2', 'Mailbox full');
  return errorReply('QUEUE_UNAVAILABLE', `Cannot write to mailbox (${code ?? 'error'})`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** A mail client may already have moved our copy to cur/, adding ":2,<flags>" to its name. */
async function alreadyInCur(folderDir: string, name: string): Promise<boolean> {
  let dir: Awaited<ReturnType<typeof opendir>>;
  try {
    dir = await opendir(join(folderDir, 'cur'));
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return false;
    throw error;
  }
  const flagged = `${name}:`;
  for await (const entry of dir) {
    if (entry.name === name || entry.name.startsWith(flagged)) return true;
  }
  return false;
}

async function writeSynced(path: string, body: Buffer): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
}

/** Final delivery records the envelope (RFC 5321 4.4): Return-Path, and Delivered-To as Postfix and Dovecot do. */
function withDeliveryHeaders(batch: DeliveryBatch, rcpt: LeasedRecipient): Buffer {
  const trace = `Return-Path: <${batch.sender}>\r\nDelivered-To: ${rcpt.address}\r\n`;
  return Buffer.concat([Buffer.from(trace), batch.body]);
}

async function discard(paths: string[]): Promise<void> {
  await Promise.all(paths.map((path) => unlink(path).catch(() => undefined)));
}

export class MaildirTarget implements DeliveryTarget {
  readonly name: string;
  private readonly root: string;
  private readonly hostname: string;
  private readonly directorySyncs = new DirectorySyncs();

  constructor(options: MaildirTargetOptions) {
    this.name = options.name ?? 'maildir';
    this.root = options.root;
    this.hostname = options.hostname ?? osHostname();
  }

  async prepare(batch: DeliveryBatch): Promise<PreparedDelivery> {
    const results: RecipientResult[] = [];
    const staged: Staged[] = [];
    for (const rcpt of batch.recipients) {
      try {
        const outcome = await this.stage(batch, rcpt);
        if ('status' in outcome) results.push(outcome);
        else staged.push(outcome);
      } catch (error) {
        results.push({ rcptIndex: rcpt.rcptIndex, status: 'deferred', reply: writeFailure(error) });
      }
    }
    return {
      results,
      commit: () => this.commit(staged),
      abort: () => discard(staged.map((s) => s.tmpPath)),
    };
  }

  private async stage(batch: DeliveryBatch, rcpt: LeasedRecipient): Promise<Staged | RecipientResult> {
    const settle = (status: RecipientResult['status'], answer: Reply): RecipientResult => ({
      rcptIndex: rcpt.rcptIndex,
      status,
      reply: answer,
    });
    const path = folderPath(this.root, rcpt.address, rcpt.folder);
    if (path === undefined) return settle('failed', reply(550, '5.1.3', 'Bad mailbox name'));
    const name = messageFileName(batch.receivedAt, batch.messageId, rcpt.rcptIndex, this.hostname);
    // Only a delivery whose earlier lease ran out can have happened before; others skip the scan.
    if (rcpt.recovered !== false && (await alreadyInCur(path.dir, name))) {
      return settle('delivered', reply(250, '2.0.0', 'Delivered to mailbox earlier'));
    }
    const tmpPath = join(path.dir, 'tmp', name);
    const body = withDeliveryHeaders(batch, rcpt);
    try {
      await writeSynced(tmpPath, body);
    } catch (error) {
      // Checked only now, so the usual delivery pays no stat: no mailbox, or a folder (Junk, say)
      // the mailbox does not have yet, which is created before trying once more.
      if (systemErrorCode(error) !== 'ENOENT') throw error;
      if (!(await exists(path.mailbox)))
        return settle('failed', errorReply('NO_SUCH_USER', 'No such mailbox'));
      await createFolder(path.dir);
      await writeSynced(tmpPath, body);
    }
    return { rcptIndex: rcpt.rcptIndex, tmpPath, newDir: join(path.dir, 'new'), name };
  }

  private async commit(staged: Staged[]): Promise<RecipientResult[]> {
    const results: RecipientResult[] = [];
    const renamed = new Map<string, Staged[]>();
    for (const item of staged) {
      try {
        await rename(item.tmpPath, join(item.newDir, item.name));
        renamed.set(item.newDir, [...(renamed.get(item.newDir) ?? []), item]);
      } catch (error) {
        await discard([item.tmpPath]);
        results.push({ rcptIndex: item.rcptIndex, status: 'deferred', reply: writeFailure(error) });
      }
    }
    // One directory sync covers every copy renamed into it. If it fails the copy may not survive a
    // crash: report deferred, and the retry replaces it under the same name.
    for (const [dir, items] of renamed) {
      let answer: RecipientResult['status'] = 'delivered';
      let text: Reply = DELIVERED;
      try {
        await this.directorySyncs.sync(dir);
      } catch (error) {
        answer = 'deferred';
        text = writeFailure(error);
      }
      for (const item of items) results.push({ rcptIndex: item.rcptIndex, status: answer, reply: text });
    }
    return results;
  }
}

/** The Maildir delivery target (see MaildirTargetOptions). */
export function createMaildirTarget(options: MaildirTargetOptions): DeliveryTarget {
  return new MaildirTarget(options);
}

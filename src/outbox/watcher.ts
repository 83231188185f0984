// Sending through IMAP: a mail client saves a message into the user's Outbox folder (Dovecot serving
// our Maildirs writes it there); outpost checks it as a submission by that user, queues it and moves
// it to Sent. A refused message goes to Drafts and the user finds the reason in their INBOX.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describeError, isOutpostError, type OutpostError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type FolderPath, folderPath } from '../delivery/maildir/paths.js';
import { authorAddresses, ownedAddresses } from '../inbound/submission.js';
import { takeHeaderRecipients, toCrlf } from '../local/message.js';
import { type LocalSubmitDeps, routeLocalRecipient, submitLocal } from '../local/submit.js';
import type { NewMessage, Store } from '../queue/store/types.js';
import { describeExceeded, type RateLimiter } from '../ratelimit/limiter.js';
import { ensureFolder, type MessageFile, messageFiles, moveToFolder, writeMessage } from './folders.js';
import { OutboxJournal } from './journal.js';
import { outboxNotice, subjectOf } from './notice.js';

export interface OutboxDeps extends LocalSubmitDeps {
  /** Directory holding the <domain>/<local>/ Maildirs (data/mail). */
  mailRoot: string;
  /** The journal database (data/outbox.db). */
  journalFile: string;
  /** Milliseconds between two scans of every Outbox. */
  intervalMs: number;
  logger: Logger;
  /** Per-user limits, the same as for SMTP submission; absent means none. */
  rateLimiter?: RateLimiter;
  /** Called after a message was queued (the runner's kick). */
  onQueued?: () => void;
}

/** What one scan did, file by file. */
export interface ScanSummary {
  /** Queued and moved to Sent (or moved now after being queued before a crash). */
  sent: number;
  /** Moved to Drafts with a notice in the INBOX. */
  refused: number;
  /** Left in the Outbox over a rate limit. */
  held: number;
  /** Left in the Outbox after a temporary failure; tried again at the next scan. */
  failed: number;
}

type FileOutcome = Exclude<keyof ScanSummary, 'failed'>;

/** A user's folders the watcher reads and writes. */
interface UserFolders {
  user: string;
  inbox: FolderPath;
  outbox: FolderPath;
  sent: FolderPath;
  drafts: FolderPath;
}

/** A message that passed the checks: where it goes and the text to queue (Bcc removed). */
interface Accepted {
  recipients: string[];
  message: Buffer;
}

const FOLDER_NAMES = { outbox: 'Outbox', sent: 'Sent', drafts: 'Drafts' } as const;

const REFUSED_OUTCOME =
  'It has been moved to your Drafts folder: correct it there and move it back to the Outbox to send it.';
const HELD_OUTCOME = 'It stays in your Outbox and is sent automatically once the limit allows.';

/** Thrown by the checks: the message cannot be sent as it is (a permanent refusal). */
class Refusal extends Error {}

/** A queue error that retrying cannot cure (a 5xx in its SMTP form): the message is refused. */
function isPermanent(error: unknown): error is OutpostError {
  return isOutpostError(error) && error.smtp[0] >= 500;
}

function foldersOf(root: string, user: string): UserFolders | undefined {
  const inbox = folderPath(root, user);
  const outbox = folderPath(root, user, FOLDER_NAMES.outbox);
  const sent = folderPath(root, user, FOLDER_NAMES.sent);
  const drafts = folderPath(root, user, FOLDER_NAMES.drafts);
  if (!inbox || !outbox || !sent || !drafts) return undefined;
  return { user, inbox, outbox, sent, drafts };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The queue as submitLocal sees it for one Outbox file: before the message is queued its id is
 * journaled as pending (so a crash right after queueing is recognised) and the file's name goes into
 * the queue's meta for operators.
 */
function journaledStore(store: Store, beforeEnqueue: (message: NewMessage) => NewMessage): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'enqueue') return (message: NewMessage) => target.enqueue(beforeEnqueue(message));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Scans every user's Outbox and sends what it finds; see docs/outbox.md. */
export class OutboxWatcher {
  private readonly journal: OutboxJournal;
  /** Users whose Outbox folder has been made to exist (so mail clients list it). */
  private readonly prepared = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly deps: OutboxDeps) {
    this.journal = new OutboxJournal(deps.journalFile, deps.clock);
  }

  /** Scans now, then every intervalMs until stop(). */
  start(): void {
    this.schedule(0);
  }

  /** Stops scanning, waits for a scan in progress, closes the journal. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning;
    this.journal.close();
  }

  /** One pass over every user's Outbox. */
  async scan(): Promise<ScanSummary> {
    const summary: ScanSummary = { sent: 0, refused: 0, held: 0, failed: 0 };
    for (const { address } of await this.deps.store.listUsers()) {
      const folders = foldersOf(this.deps.mailRoot, address);
      if (folders === undefined || !(await exists(folders.inbox.dir))) continue;
      await this.prepareOutbox(folders);
      for (const file of await messageFiles(folders.outbox.dir)) {
        try {
          summary[await this.processFile(folders, file)]++;
        } catch (error) {
          summary.failed++;
          this.deps.logger.warn(
            { user: address, file: file.base, err: describeError(error) },
            'outbox: not sent yet, will retry',
          );
        }
      }
    }
    return summary;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.scanning = this.scan()
        .catch((error: unknown) =>
          this.deps.logger.error({ err: describeError(error) }, 'outbox scan failed'),
        )
        .finally(() => {
          if (!this.stopped) this.schedule(this.deps.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async prepareOutbox(folders: UserFolders): Promise<void> {
    if (this.prepared.has(folders.user)) return;
    if (!(await exists(folders.outbox.dir))) await ensureFolder(folders.outbox);
    this.prepared.add(folders.user);
  }

  private async processFile(folders: UserFolders, file: MessageFile): Promise<FileOutcome> {
    const key = `${folders.user}/${file.base}`;
    const entry = this.journal.get(key);
    const queuedBefore =
      entry?.state === 'queued' ||
      (entry?.state === 'pending' &&
        entry.queueId !== undefined &&
        (await this.deps.store.message(entry.queueId)) !== undefined);
    if (queuedBefore) {
      await this.moveToSent(key, folders, file);
      return 'sent';
    }
    const info = await stat(file.path);
    const message = toCrlf(await readFile(file.path));
    let accepted: Accepted;
    try {
      accepted = await this.check(folders.user, message);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      await this.refuse(key, folders, file, message, error.message, info.mtimeMs);
      return 'refused';
    }
    const limited = this.deps.rateLimiter?.record({ user: folders.user }, accepted.recipients.length);
    if (limited !== undefined) {
      if (entry?.state !== 'held') {
        const reason = describeExceeded(limited);
        await this.notify(key, folders, message, reason, HELD_OUTCOME, info.mtimeMs);
        this.journal.set(key, 'held');
      }
      return 'held';
    }
    let queueId: string;
    try {
      queueId = await this.enqueue(key, folders.user, info.uid, accepted);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      await this.refuse(key, folders, file, message, describeError(error), info.mtimeMs);
      return 'refused';
    }
    this.journal.set(key, 'queued', queueId);
    this.deps.onQueued?.();
    this.deps.logger.info(
      { user: folders.user, file: file.base, queueId, recipients: accepted.recipients.length },
      'outbox: message queued',
    );
    await this.moveToSent(key, folders, file);
    return 'sent';
  }

  /** The checks of a submission by `user` (RFC 6409): author addresses owned, recipients valid. */
  private async check(user: string, message: Buffer): Promise<Accepted> {
    const authors = authorAddresses(message).filter((address) => address !== '');
    if (authors.length === 0) throw new Refusal('The message has no From: address');
    const owned = await ownedAddresses(this.deps.store, user);
    const foreign = authors.find((address) => !owned.has(address.toLowerCase()));
    if (foreign !== undefined) throw new Refusal(`From: address <${foreign}> is not one of yours (${user})`);
    const taken = takeHeaderRecipients(message);
    if (taken.recipients.length === 0) throw new Refusal('The message has no recipients in To:, Cc: or Bcc:');
    const perMessage = this.deps.rateLimiter?.recipientsPerMessage;
    if (perMessage !== undefined && taken.recipients.length > perMessage) {
      throw new Refusal(
        `Too many recipients: at most ${perMessage} per message, send the rest in another one`,
      );
    }
    for (const recipient of taken.recipients) {
      await routeLocalRecipient(this.deps, recipient).catch((error: unknown) => {
        throw isPermanent(error) ? new Refusal(`<${recipient}>: ${describeError(error)}`) : error;
      });
    }
    return { recipients: taken.recipients, message: taken.message };
  }

  /** Queues the message as sent by `user`; the journal knows its queue id before the queue does. */
  private async enqueue(key: string, user: string, uid: number, accepted: Accepted): Promise<string> {
    const store = journaledStore(this.deps.store, (message) => {
      this.journal.set(key, 'pending', message.id);
      return { ...message, meta: { ...message.meta, outboxFile: key } };
    });
    const { id } = await submitLocal(
      { ...this.deps, store },
      {
        user: { name: user, uid },
        sender: user,
        recipients: accepted.recipients,
        message: accepted.message,
        via: 'outbox',
      },
    );
    return id;
  }

  private async moveToSent(key: string, folders: UserFolders, file: MessageFile): Promise<void> {
    await moveToFolder(file, folders.sent, 'S');
    this.journal.forget(key);
  }

  private async refuse(
    key: string,
    folders: UserFolders,
    file: MessageFile,
    message: Buffer,
    reason: string,
    mtimeMs: number,
  ): Promise<void> {
    await this.notify(key, folders, message, reason, REFUSED_OUTCOME, mtimeMs);
    await moveToFolder(file, folders.drafts, file.flags);
    this.journal.forget(key);
    this.deps.logger.info({ user: folders.user, file: file.base, reason }, 'outbox: message refused');
  }

  /** Writes the notice into the INBOX under a name derived from the file, so a repeat replaces it. */
  private async notify(
    key: string,
    folders: UserFolders,
    message: Buffer,
    reason: string,
    outcome: string,
    mtimeMs: number,
  ): Promise<void> {
    const now = (this.deps.clock ?? Date.now)();
    const id = createHash('sha256').update(`${outcome}\n${key}`).digest('hex').slice(0, 20);
    const host = this.deps.hostname.replaceAll('/', '\\057').replaceAll(':', '\\072');
    const notice = outboxNotice({
      hostname: this.deps.hostname,
      user: folders.user,
      subject: subjectOf(message),
      reason,
      outcome,
      id,
      now,
    });
    await writeMessage(folders.inbox, `${Math.floor(mtimeMs / 1000)}.N${id}.${host}`, notice);
  }
}

/** Starts the watcher (first scan at once); the lead wires this into startOutpost. */
export function startOutboxWatcher(deps: OutboxDeps): { stop(): Promise<void> } {
  const watcher = new OutboxWatcher(deps);
  watcher.start();
  return { stop: () => watcher.stop() };
}

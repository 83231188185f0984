import type { NotifyOn } from '../../protocol/smtp/types.js';

/** Every per-recipient queue state (DESIGN.md "Queue"). */
export const RECIPIENT_STATUSES = [
  'queued',
  'deferred',
  'delivered',
  'failed',
  'held',
  'quarantined',
  'expired',
] as const;

export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export interface NewRecipient {
  address: string;
  /** RFC 3461 ORCPT and NOTIFY (empty array = NEVER). */
  orcpt?: string;
  notify?: NotifyOn[];
  /** Delivery target name: 'maildir' for local mailboxes, 'smtp' for remote, etc. */
  target: string;
  /** Maildir++ folder for local delivery ('' = INBOX, 'Junk' for quarantine). */
  folder?: string;
  /**
   * Initial state; defaults to 'queued'. 'held' waits for a challenge reply or an operator;
   * 'quarantined' (a forwarded copy of suspect mail) waits for an operator's release.
   */
  status?: 'queued' | 'held' | 'quarantined';
}

export interface NewMessage {
  /** Queue id, returned in the 250 reply. */
  id: string;
  sender: string;
  /** The full message as it will be delivered (our Received header already prepended). */
  body: Buffer;
  receivedAt: number;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** Facts about the reception kept for operators and DSNs: listener, client ip, helo, verdict... */
  meta: Record<string, unknown>;
  recipients: NewRecipient[];
}

export interface RecipientRow {
  messageId: string;
  /** Index of the recipient within its message (stable; used in Maildir file names). */
  rcptIndex: number;
  address: string;
  orcpt?: string;
  notify?: NotifyOn[];
  target: string;
  folder: string;
  status: RecipientStatus;
  attempts: number;
  nextAttemptAt: number;
  lastReply?: string;
  updatedAt: number;
  /** When a delay DSN (queue.warn_after) was queued for this recipient; absent = none yet. */
  delayNotifiedAt?: number;
}

export interface MessageRow {
  id: string;
  sender: string;
  size: number;
  receivedAt: number;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  meta: Record<string, unknown>;
  recipients: RecipientRow[];
}

/** A recipient handed to a delivery worker, with the lease it holds until it reports back. */
export interface LeasedRecipient extends RecipientRow {
  sender: string;
  receivedAt: number;
  /**
   * When this recipient's retry life began: the later of reception and the last time it was moved
   * (back) to 'queued' by release, requeue or setFolder. queue.max_age and queue.warn_after count
   * from it, so mail held for days still gets a full retry life. Absent = receivedAt.
   */
  expiryBase?: number;
  /** The message's RFC 3461 ENVID and RET, passed on to a next hop that offers DSN. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  leaseUntil: number;
  /**
   * True when an earlier lease on this recipient ran out without an outcome (its worker died), so
   * the delivery may already have happened; targets that can check (Maildir) should. Undefined = unknown.
   */
  recovered?: boolean;
}

export type DeliveryOutcome =
  | { messageId: string; rcptIndex: number; status: 'delivered'; reply: string }
  | {
      messageId: string;
      rcptIndex: number;
      status: 'deferred';
      reply: string;
      nextAttemptAt: number;
      /** A delay DSN about this recipient is queued with this outcome: remember it (delayNotifiedAt). */
      delayNotified?: boolean;
    }
  | { messageId: string; rcptIndex: number; status: 'failed' | 'expired'; reply: string };

export interface QueueFilter {
  status?: RecipientStatus;
  sender?: string;
  recipient?: string;
  limit?: number;
}

export interface QueueStats {
  messages: number;
  byStatus: Record<RecipientStatus, number>;
  /** Write transactions since the store opened and the operations they carried (group commit), when counted. */
  commits?: { transactions: number; operations: number };
}

export interface User {
  address: string;
  /** scrypt hash, absent for receive-only mailboxes. */
  passwordHash?: string;
  settings: Record<string, string>;
  createdAt: number;
}

/**
 * The durable queue. Every write resolves only once it is on disk (fsync / WAL commit); concurrent
 * enqueues share one commit. Implementations: store/sqlite (embedded default).
 */
export interface Store {
  enqueue(message: NewMessage): Promise<void>;
  /** Hands out due recipients (queued or deferred with nextAttemptAt <= now, no live lease). */
  lease(options: { now: number; limit: number; leaseMs: number; owner: string }): Promise<LeasedRecipient[]>;
  /**
   * Records delivery outcomes and drops the leases. `notices` (DSNs about these outcomes) are
   * enqueued in the same transaction: either the notices and the outcomes are durable, or neither.
   */
  complete(outcomes: DeliveryOutcome[], notices?: NewMessage[]): Promise<void>;
  body(messageId: string): Promise<Buffer | undefined>;
  message(messageId: string): Promise<MessageRow | undefined>;
  list(filter: QueueFilter): Promise<RecipientRow[]>;
  stats(): Promise<QueueStats>;
  /**
   * Operator actions on every recipient of a message (or one recipient); return rows changed.
   * Moving a recipient to 'queued' makes it due now and restarts its retry life (expiryBase).
   */
  setStatus(
    messageId: string,
    from: RecipientStatus[],
    to: RecipientStatus,
    rcptIndex?: number,
  ): Promise<number>;
  /**
   * Makes every lease of an earlier run due now (call once at start-up, as the store's only delivery
   * runner); the rows are leased again as recovered, so targets check for a copy delivered before.
   */
  recoverLeases(): Promise<number>;
  /**
   * Moves recipients to a Maildir folder ('' = INBOX) and queues them due now (release from Junk),
   * restarting their retry life (expiryBase).
   */
  setFolder(messageId: string, folder: string, rcptIndex?: number): Promise<number>;
  /** Makes deferred recipients due now. */
  flush(messageId?: string): Promise<number>;
  /** Removes a message and its recipients. */
  remove(messageId: string): Promise<boolean>;
  /** Deletes messages whose recipients are all final and older than the cutoff. */
  purge(olderThan: number): Promise<number>;

  addUser(user: User): Promise<void>;
  removeUser(address: string): Promise<boolean>;
  getUser(address: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  updateUser(address: string, changes: Partial<Pick<User, 'passwordHash' | 'settings'>>): Promise<boolean>;

  close(): Promise<void>;
}

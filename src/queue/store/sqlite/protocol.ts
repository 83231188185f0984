// Messages between the store (main thread) and its writer thread. Everything here crosses a
// structured clone, so it holds plain data only: JSON is already text, bodies are Uint8Arrays.
import type { ErrorCode } from '../../../core/errors.js';
import type { DeliveryOutcome, LeasedRecipient, RecipientStatus } from '../types.js';

/** Settings the writer thread starts with. */
export interface WriterSettings {
  path: string;
  bodiesDir: string;
  batchMaxMessages: number;
  batchMaxWaitMs: number;
  /** Checkpoint when no write arrived for this long. */
  idleCheckpointMs: number;
  /** Checkpoint under load once this many bytes were committed since the last one (estimate). */
  checkpointBytes: number;
  /** Upper bound for the database file (PRAGMA max_page_count); 0 = none. */
  maxDbBytes: number;
  /** Unreferenced body files younger than this are left alone at open. */
  orphanGraceMs: number;
}

export interface EncodedRecipient {
  address: string;
  orcpt: string | null;
  /** NOTIFY as comma-separated keywords; '' = NEVER, null = not given. */
  notify: string | null;
  target: string;
  folder: string;
  status: 'queued' | 'held' | 'quarantined';
}

export interface EncodedMessage {
  id: string;
  sender: string;
  size: number;
  receivedAt: number;
  envid: string | null;
  ret: string | null;
  meta: string;
  /** The body when it is stored inline; null when the store already wrote it to bodiesDir/<id>. */
  body: Uint8Array | null;
  recipients: EncodedRecipient[];
}

export interface EncodedUser {
  address: string;
  passwordHash: string | null;
  settings: string;
  createdAt: number;
}

export type WriteRequest =
  | { op: 'enqueue'; message: EncodedMessage }
  | { op: 'lease'; now: number; limit: number; leaseMs: number; owner: string }
  | { op: 'complete'; outcomes: DeliveryOutcome[]; notices: EncodedMessage[]; now: number }
  | {
      op: 'setStatus';
      messageId: string;
      from: RecipientStatus[];
      to: RecipientStatus;
      rcptIndex: number | null;
      now: number;
    }
  | { op: 'flush'; messageId: string | null; now: number }
  | { op: 'recoverLeases' }
  | { op: 'setFolder'; messageId: string; folder: string; rcptIndex: number | null; now: number }
  | { op: 'remove'; messageId: string }
  | { op: 'purge'; olderThan: number }
  | { op: 'addUser'; user: EncodedUser }
  | { op: 'removeUser'; address: string }
  | {
      op: 'updateUser';
      address: string;
      setPassword: boolean;
      passwordHash: string | null;
      settings: string | null;
    }
  | { op: 'close' };

/** What each operation resolves to. */
export interface WriteResults {
  enqueue: null;
  lease: LeasedRecipient[];
  complete: null;
  setStatus: number;
  flush: number;
  recoverLeases: number;
  setFolder: number;
  remove: boolean;
  purge: number;
  addUser: null;
  removeUser: boolean;
  updateUser: boolean;
  close: null;
}

export type WriteOp = WriteRequest['op'];

export interface WriteEnvelope {
  id: number;
  request: WriteRequest;
}

export type WriteResponse =
  | { id: number; ok: true; value: WriteResults[WriteOp] }
  | { id: number; ok: false; code: ErrorCode; detail: string };

/** Counters of the writer thread (group commit efficiency, checkpoints). */
export interface WriterStats {
  /** Write transactions committed. */
  commits: number;
  /** Operations those transactions carried (enqueues, leases, completions, ...). */
  operations: number;
  checkpoints: number;
}

export type WriterEvent =
  | { type: 'ready'; stats: WriterStats; orphansRemoved: number }
  | { type: 'results'; results: WriteResponse[]; stats: WriterStats }
  | { type: 'fatal'; detail: string };

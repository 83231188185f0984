// Row shapes as SQLite returns them, and their conversion to the Store contract's types.
import type { NotifyOn } from '../../../protocol/smtp/types.js';
import {
  type LeasedRecipient,
  type MessageRow,
  RECIPIENT_STATUSES,
  type RecipientRow,
  type RecipientStatus,
  type User,
} from '../types.js';

export interface RecipientRecord {
  message_id: string;
  rcpt_index: number;
  address: string;
  orcpt: string | null;
  notify: string | null;
  target: string;
  folder: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_reply: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  updated_at: number;
  delay_notified_at: number | null;
  queued_since: number | null;
}

export interface MessageRecord {
  id: string;
  sender: string;
  size: number;
  received_at: number;
  envid: string | null;
  ret: string | null;
  meta: string;
}

export interface UserRecord {
  address: string;
  password_hash: string | null;
  settings: string;
  created_at: number;
}

/** Statuses after which nothing more will happen to a recipient. */
export const FINAL_STATUSES: readonly RecipientStatus[] = ['delivered', 'failed', 'expired'];

const NOTIFY_KEYWORDS: readonly NotifyOn[] = ['SUCCESS', 'FAILURE', 'DELAY'];

export function isRecipientStatus(value: unknown): value is RecipientStatus {
  return typeof value === 'string' && (RECIPIENT_STATUSES as readonly string[]).includes(value);
}

export function encodeNotify(notify: readonly NotifyOn[] | undefined): string | null {
  return notify === undefined ? null : notify.join(',');
}

function decodeNotify(text: string): NotifyOn[] {
  if (text === '') return [];
  return NOTIFY_KEYWORDS.filter((keyword) => text.split(',').includes(keyword));
}

export function toRecipientRow(record: RecipientRecord): RecipientRow {
  const row: RecipientRow = {
    messageId: record.message_id,
    rcptIndex: record.rcpt_index,
    address: record.address,
    target: record.target,
    folder: record.folder,
    status: isRecipientStatus(record.status) ? record.status : 'held',
    attempts: record.attempts,
    nextAttemptAt: record.next_attempt_at,
    updatedAt: record.updated_at,
  };
  if (record.orcpt !== null) row.orcpt = record.orcpt;
  if (record.notify !== null) row.notify = decodeNotify(record.notify);
  if (record.last_reply !== null) row.lastReply = record.last_reply;
  if (record.delay_notified_at !== null) row.delayNotifiedAt = record.delay_notified_at;
  return row;
}

/** A recipient as the lease query returns it: the row plus its message's envelope sender and time. */
export interface LeaseRecord extends RecipientRecord {
  sender: string;
  received_at: number;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
}

export function toLeasedRecipient(record: LeaseRecord, leaseUntil: number): LeasedRecipient {
  return {
    ...toRecipientRow(record),
    sender: record.sender,
    receivedAt: record.received_at,
    expiryBase: Math.max(record.received_at, record.queued_since ?? record.received_at),
    ...(record.envid === null ? {} : { envid: record.envid }),
    ...(record.ret === null ? {} : { ret: record.ret }),
    leaseUntil,
    // complete() clears the owner, so an owner still set means an earlier lease ran out unreported.
    recovered: record.lease_owner !== null,
  };
}

function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function toMessageRow(record: MessageRecord, recipients: RecipientRecord[]): MessageRow {
  const row: MessageRow = {
    id: record.id,
    sender: record.sender,
    size: record.size,
    receivedAt: record.received_at,
    meta: parseObject(record.meta),
    recipients: recipients.map(toRecipientRow),
  };
  if (record.envid !== null) row.envid = record.envid;
  if (record.ret === 'FULL' || record.ret === 'HDRS') row.ret = record.ret;
  return row;
}

export function toUser(record: UserRecord): User {
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseObject(record.settings))) {
    if (typeof value === 'string') settings[key] = value;
  }
  const user: User = { address: record.address, settings, createdAt: record.created_at };
  if (record.password_hash !== null) user.passwordHash = record.password_hash;
  return user;
}

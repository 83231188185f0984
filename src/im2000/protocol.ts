// The IM2000 wire objects (docs/protocols/im2000.md): their shapes, checked with zod.
import { z } from 'zod';

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);
/** Message ids: base64url, as the sender's post office makes them. */
export const messageIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
const millis = z.number().int().nonnegative();

export const noticeSchema = z.strictObject({
  v: z.literal('im1'),
  type: z.literal('notice'),
  id: messageIdSchema,
  from: z.string().min(3).max(320),
  to: z.string().min(3).max(320),
  size: z.number().int().nonnegative(),
  sha256: base64,
  subject: z.string().max(200),
  createdAt: millis,
  expiresAt: millis,
  fetchUrl: z.string().max(2048),
  signature: base64,
});
export type Notice = z.output<typeof noticeSchema>;

export const receiptSchema = z.strictObject({
  v: z.literal('im1'),
  type: z.literal('receipt'),
  id: messageIdSchema,
  to: z.string().min(3).max(320),
  sha256: base64,
  receivedAt: millis,
  signature: base64,
});
export type Receipt = z.output<typeof receiptSchema>;

/** Per-recipient status at the sender's post office. */
export type RecipientStatus =
  | 'pending'
  | 'notified'
  | 'fetched'
  | 'receipted'
  | 'refused'
  | 'smtp'
  | 'expired'
  | 'recalled';

/** Statuses that still wait for a receipt: notices go on being sent for them. */
export const OPEN_STATUSES: readonly RecipientStatus[] = ['pending', 'notified', 'fetched'];

export interface RecipientState {
  address: string;
  status: RecipientStatus;
  attempts: number;
  lastError?: string;
  notifiedAt?: number;
  fetchedAt?: number;
  receiptedAt?: number;
}

/** What `GET /api/im2000/:id` and `outpost im2000 status` show. */
export interface MessageStatus {
  id: string;
  from: string;
  size: number;
  sha256: string;
  subject: string;
  createdAt: number;
  expiresAt: number;
  recipients: RecipientState[];
}

/** A message handed to IM2000 (or, lacking a post office, to the SMTP gateway). */
export interface OutgoingMessage {
  from: string;
  to: string[];
  message: Buffer;
}

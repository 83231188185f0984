import type { Reply } from '../core/reply.js';
import type { LeasedRecipient } from '../queue/store/types.js';

/** One message and those of its recipients that go through one target. */
export interface DeliveryBatch {
  messageId: string;
  sender: string;
  receivedAt: number;
  /** The message exactly as queued (our Received header already in it; final delivery adds Return-Path). */
  body: Buffer;
  recipients: LeasedRecipient[];
  /** RFC 3461 ENVID and RET of the message, for next hops that offer DSN. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
}

/**
 * What a target says about one recipient. Targets report facts; the queue runner owns the retry
 * schedule and turns 'deferred' into a next attempt or an expiry.
 */
export interface RecipientResult {
  rcptIndex: number;
  status: 'delivered' | 'deferred' | 'failed';
  reply: Reply;
  /**
   * Delivered to a next hop that does not offer DSN while the recipient asked for NOTIFY=SUCCESS:
   * the queue owes the sender a "relayed" notice (RFC 3461 4.1) instead of expecting one from afar.
   */
  relayed?: boolean;
  /**
   * Delivered to a next hop that offers DSN, with the recipient's NOTIFY passed on: that hop now
   * owns the success notice (RFC 3461 4.1), so none is due from us.
   */
  passedOn?: boolean;
  /** The host name of the server whose reply this is (Remote-MTA of a DSN, RFC 3464 2.3.5). */
  remoteMta?: string;
}

/**
 * A delivery target, in two phases (as in Maddy): prepare does everything that can fail without
 * making the message visible; commit makes it visible and should be nearly unable to fail. A crash
 * between the phases leaves nothing a recipient can see, and the lease brings the work back.
 */
export interface DeliveryTarget {
  name: string;
  /** Phase 1: write temporary files, open connections, send RCPTs; nothing visible yet. */
  prepare(batch: DeliveryBatch): Promise<PreparedDelivery>;
}

export interface PreparedDelivery {
  /** Recipients already settled in phase 1 (refused, deferred, or found delivered earlier). */
  results: RecipientResult[];
  /** Phase 2: make it visible (rename into new/, send the final dot); results for the others. */
  commit(): Promise<RecipientResult[]>;
  /** Undo phase 1 (remove temporary files, RSET); called instead of commit. */
  abort(): Promise<void>;
}

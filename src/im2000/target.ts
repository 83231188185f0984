// The `post-office` delivery target: SMTP-accepted mail for domains that publish an IM2000 post
// office is stored with PostOffice.send; from then on IM2000 notices, receipts and statuses apply.

import { isOutpostError } from '../core/errors.js';
import { errorReply, reply } from '../core/reply.js';
import type { DeliveryBatch, DeliveryTarget, PreparedDelivery, RecipientResult } from '../delivery/types.js';
import type { OutgoingMessage } from './protocol.js';

/** What the target needs of a post office (PostOffice satisfies it). */
export interface PostOfficeSender {
  send(message: OutgoingMessage): Promise<{ id: string }>;
}

/**
 * Phase 1 does nothing visible; phase 2 stores the message once for all recipients of the batch.
 * The stored message is the sender's outgoing queue, so the SMTP queue row is done once it is in.
 */
export function createPostOfficeTarget(postOffice: PostOfficeSender, name = 'post-office'): DeliveryTarget {
  return {
    name,
    async prepare(batch: DeliveryBatch): Promise<PreparedDelivery> {
      return {
        results: [],
        commit: () => storeBatch(postOffice, batch),
        abort: async () => undefined,
      };
    },
  };
}

async function storeBatch(postOffice: PostOfficeSender, batch: DeliveryBatch): Promise<RecipientResult[]> {
  const settle = (status: RecipientResult['status'], answer: RecipientResult['reply']) =>
    batch.recipients.map((rcpt) => ({ rcptIndex: rcpt.rcptIndex, status, reply: answer }));
  try {
    const { id } = await postOffice.send({
      from: batch.sender,
      to: batch.recipients.map((rcpt) => rcpt.address),
      message: batch.body,
    });
    return settle('delivered', reply(250, '2.0.0', `Stored for IM2000 pickup as ${id}`));
  } catch (error) {
    if (isOutpostError(error) && error.code === 'IM2000_QUOTA_EXCEEDED') {
      return settle('deferred', errorReply('IM2000_QUOTA_EXCEEDED'));
    }
    if (isOutpostError(error) && error.smtp[0] >= 500) {
      return settle('failed', errorReply(error.code, error.detail ?? error.message));
    }
    return settle('deferred', errorReply('QUEUE_UNAVAILABLE', 'IM2000 store unavailable'));
  }
}

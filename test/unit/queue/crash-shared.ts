// What crash-child.ts writes and crash.test.ts checks: bodies are derived from id and sequence,
// so the parent can verify every byte without the child telling it.
import { newQueueId } from '../../../src/queue/ids.js';
import type { NewMessage } from '../../../src/queue/store/types.js';

/** Every 7th body is larger than the child's inlineBodyMax (2048), so body files are exercised too. */
export function crashBody(id: string, sequence: number): Buffer {
  const size = sequence % 7 === 0 ? 5000 + sequence : 200 + (sequence % 500);
  return Buffer.from(`${id}:${sequence};`.repeat(Math.ceil(size / 20)).slice(0, size));
}

export function crashMessage(sequence: number): Omit<NewMessage, 'body'> {
  return {
    id: newQueueId(),
    sender: `s${sequence}@crash.example`,
    receivedAt: Date.now(),
    meta: { sequence },
    recipients: [
      { address: 'a@crash.example', target: 'maildir' },
      { address: 'b@far.example', target: 'smtp' },
    ],
  };
}

// Operator actions on queued messages, shared by the CLI (`outpost queue ...`) and the HTTP API.
import { OutpostError } from '../core/errors.js';
import type { RecipientStatus, Store } from './store/types.js';

/** Actions that move a message's recipients from some statuses to another. */
export type StatusAction = 'hold' | 'release' | 'requeue';
export type QueueAction = StatusAction | 'flush';

export const QUEUE_ACTIONS: readonly QueueAction[] = ['hold', 'release', 'flush', 'requeue'];

/**
 * hold: stop delivering (queued/deferred -> held); release: held or quarantined -> queued; requeue: try again
 * recipients that gave up or wait (failed/expired/deferred -> queued). Moving to queued makes a
 * recipient due now.
 */
const TRANSITIONS: Record<StatusAction, { from: RecipientStatus[]; to: RecipientStatus }> = {
  hold: { from: ['queued', 'deferred'], to: 'held' },
  release: { from: ['held', 'quarantined'], to: 'queued' },
  requeue: { from: ['failed', 'expired', 'deferred'], to: 'queued' },
};

export interface ActionResult {
  id: string;
  action: QueueAction;
  /** Recipients the action changed (0 when none was in a state it applies to). */
  changed: number;
}

export function isQueueAction(value: string): value is QueueAction {
  return (QUEUE_ACTIONS as readonly string[]).includes(value);
}

async function requireMessage(store: Store, id: string): Promise<void> {
  if ((await store.message(id)) === undefined) {
    throw new OutpostError('NOT_FOUND', `No message ${id} in the queue`);
  }
}

/** Applies an action to every recipient of a message; NOT_FOUND when there is no such message. */
export async function applyQueueAction(store: Store, id: string, action: QueueAction): Promise<ActionResult> {
  await requireMessage(store, id);
  if (action === 'flush') return { id, action, changed: await store.flush(id) };
  const { from, to } = TRANSITIONS[action];
  return { id, action, changed: await store.setStatus(id, from, to) };
}

/** Makes every deferred recipient of the queue due now; returns how many. */
export function flushQueue(store: Store): Promise<number> {
  return store.flush();
}

/** Deletes a message and its recipients for good; NOT_FOUND when there is no such message. */
export async function removeMessage(store: Store, id: string): Promise<void> {
  if (!(await store.remove(id))) throw new OutpostError('NOT_FOUND', `No message ${id} in the queue`);
}

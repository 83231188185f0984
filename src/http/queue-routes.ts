import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../core/errors.js';
import {
  applyQueueAction,
  flushQueue,
  isQueueAction,
  QUEUE_ACTIONS,
  removeMessage,
} from '../queue/operations.js';
import { RECIPIENT_STATUSES, type RecipientStatus, type Store } from '../queue/store/types.js';
import { parseRequest } from './errors.js';

const listQuery = z.object({
  status: z.enum(RECIPIENT_STATUSES).optional(),
  sender: z.string().optional(),
  recipient: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export interface QueueRouteOptions {
  /** Called after an action made work due (release, flush, requeue): the runner's kick(). */
  onDue?: () => void;
}

/** Queue read-out (list, stats, one message) and operator actions (hold, release, flush, requeue, remove). */
export function queueRoutes(store: Store, options: QueueRouteOptions = {}) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/api/queue', async (request) => {
      const query = parseRequest(listQuery, request.query, 'query');
      const filter: { status?: RecipientStatus; sender?: string; recipient?: string; limit: number } = {
        limit: query.limit,
      };
      if (query.status) filter.status = query.status;
      if (query.sender) filter.sender = query.sender;
      if (query.recipient) filter.recipient = query.recipient;
      return { recipients: await store.list(filter) };
    });

    app.get('/api/queue/stats', async () => store.stats());

    app.get<{ Params: { id: string } }>('/api/queue/:id', async (request) => {
      const message = await store.message(request.params.id);
      if (!message) throw new OutpostError('NOT_FOUND', `No message ${request.params.id} in the queue`);
      return message;
    });

    app.post('/api/queue/flush', async () => {
      const changed = await flushQueue(store);
      options.onDue?.();
      return { action: 'flush', changed };
    });

    app.post<{ Params: { id: string; action: string } }>('/api/queue/:id/:action', async (request) => {
      const { id, action } = request.params;
      if (!isQueueAction(action)) {
        throw new OutpostError(
          'NOT_FOUND',
          `No action ${action}; expected one of ${QUEUE_ACTIONS.join(', ')}`,
        );
      }
      const result = await applyQueueAction(store, id, action);
      if (action !== 'hold' && result.changed > 0) options.onDue?.();
      return result;
    });

    app.delete<{ Params: { id: string } }>('/api/queue/:id', async (request) => {
      await removeMessage(store, request.params.id);
      return { id: request.params.id, removed: true };
    });
  };
}

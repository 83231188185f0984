import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../core/errors.js';
import { parseRequest } from '../http/errors.js';
import { authenticationResultsOf, senderAddress } from './evidence.js';
import {
  admissionReport,
  DEFAULT_POLICY,
  fileComplaint,
  type ListPolicy,
  relistEntry,
  requestRemoval,
} from './policy.js';
import type { TrustListStore } from './store.js';
import type { Entry } from './types.js';

/** How the trust list API behaves. */
export interface TrustlistRouteOptions {
  policy?: ListPolicy;
  /** Who the audit log names for API changes (default "api"). */
  actor?: (request: FastifyRequest) => string;
}

const MAX_EVIDENCE = 512 * 1024;

const complaintBody = z.object({
  ip: z.string().optional(),
  message: z.string().min(1).max(MAX_EVIDENCE),
  authentication_results: z
    .string()
    .max(64 * 1024)
    .optional(),
  reporter: z.string().min(1).max(320),
});

const entryBody = z.object({
  network: z.string().min(1),
  category: z.number().optional(),
  trust: z.number().optional(),
  text: z.string().optional(),
  contact: z.string().optional(),
  exclude: z.boolean().optional(),
  reason: z.string().optional(),
});

const changesBody = z.object({
  category: z.number().optional(),
  trust: z.number().optional(),
  text: z.string().optional(),
  contact: z.string().optional(),
});

const listQuery = z.object({
  status: z.enum(['listed', 'delisted', 'excluded']).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});

const auditQuery = z.object({
  subject: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});

/** The network named in the path ("192.0.2.0%2F24" arrives decoded). */
function networkParam(request: FastifyRequest): string {
  return (request.params as { network: string }).network;
}

function mustGet(store: TrustListStore, network: string): Entry {
  const entry = store.get(network);
  if (!entry) throw new OutpostError('NOT_FOUND', `${network} is not on the list`);
  return entry;
}

/**
 * The trust list operator API under /api/trustlist (register it inside the bearer-protected
 * /api scope): complaints with evidence, entries (list, add, change, delist, relist), the audit
 * log. The CLI calls the same store and policy functions.
 */
export function trustlistRoutes(store: TrustListStore, options: TrustlistRouteOptions = {}) {
  const policy = options.policy ?? DEFAULT_POLICY;
  const actorOf = options.actor ?? (() => 'api');
  return async (app: FastifyInstance): Promise<void> => {
    app.post('/api/trustlist/complaints', async (request, reply) => {
      const body = parseRequest(complaintBody, request.body, 'body');
      const authenticationResults = body.authentication_results ?? authenticationResultsOf(body.message);
      const ip = body.ip ?? senderAddress(body.message, authenticationResults);
      if (!ip) {
        throw new OutpostError(
          'BAD_REQUEST',
          'ip: not given and not found in the evidence (Authentication-Results iprev, Received)',
        );
      }
      const input = { ip, message: body.message, authenticationResults, reporter: body.reporter };
      const outcome = fileComplaint(store, input, policy, actorOf(request));
      const { message: _message, ...complaint } = outcome.complaint;
      return reply.code(201).send({
        ...complaint,
        delisted: outcome.delisted,
        open_complaints: outcome.open,
        reporters: outcome.reporters,
      });
    });

    app.get('/api/trustlist/entries', async (request) => {
      const query = parseRequest(listQuery, request.query, 'query');
      return { entries: store.list(query) };
    });

    app.get('/api/trustlist/entries/:network', async (request) => {
      const entry = mustGet(store, networkParam(request));
      const complaints = store.complaintsFor(entry.network).map(({ message: _message, ...rest }) => rest);
      return { entry, complaints, admission: admissionReport(store, entry.network) };
    });

    app.post('/api/trustlist/entries', async (request, reply) => {
      const body = parseRequest(entryBody, request.body, 'body');
      return reply.code(201).send(store.add(body, actorOf(request)));
    });

    app.patch('/api/trustlist/entries/:network', async (request) => {
      return store.update(
        networkParam(request),
        parseRequest(changesBody, request.body, 'body'),
        actorOf(request),
      );
    });

    app.delete('/api/trustlist/entries/:network', async (request) => {
      const network = networkParam(request);
      const entry = mustGet(store, network);
      if (entry.status === 'excluded') return store.removeExclusion(entry.network, actorOf(request));
      const body = (request.body ?? {}) as { reason?: unknown; requested_by?: unknown };
      if (typeof body.requested_by === 'string') {
        return requestRemoval(store, entry.network, body.requested_by, actorOf(request));
      }
      const fromQuery = (request.query as { reason?: unknown }).reason;
      const reason =
        typeof body.reason === 'string' ? body.reason : typeof fromQuery === 'string' ? fromQuery : '';
      return store.remove(entry.network, reason, actorOf(request));
    });

    app.post('/api/trustlist/entries/:network/relist', async (request) => {
      const body = (request.body ?? {}) as { force?: unknown; reason?: unknown };
      return relistEntry(store, networkParam(request), policy, actorOf(request), {
        force: body.force === true,
        ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
      });
    });

    app.get('/api/trustlist/audit', async (request) => {
      return { audit: store.auditLog(parseRequest(auditQuery, request.query, 'query')) };
    });
  };
}

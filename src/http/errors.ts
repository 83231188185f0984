import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { type ErrorCode, Errors, isOutpostError, OutpostError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/** The JSON body of every HTTP error: a stable code from the catalogue and a message. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? Errors[code].smtp[2] } };
}

/**
 * A request part (query, body, params) checked against its schema; BAD_REQUEST naming the first
 * offending field otherwise (`what` when the problem is the whole value).
 */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new OutpostError('BAD_REQUEST', `${issue?.path.join('.') || what}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/** Turns every failure into the catalogue's JSON error; never a stack trace on the wire. */
export function installErrorHandler(app: FastifyInstance, logger?: Logger): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url}`));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isOutpostError(error)) {
      void reply.code(error.httpStatus).send(errorBody(error.code, error.detail ?? error.message));
      return;
    }
    if (error.validation || (error.statusCode && error.statusCode < 500)) {
      void reply.code(error.statusCode ?? 400).send(errorBody('BAD_REQUEST', error.message));
      return;
    }
    logger?.error({ err: error, url: request.url }, 'request failed');
    void reply.code(503).send(errorBody('QUEUE_UNAVAILABLE'));
  });
}

import { type ErrorCode, isOutpostError } from '../../../core/errors.js';

const DISK_FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);
const CONFLICT_CODES = new Set(['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE', 'EEXIST']);

/**
 * The catalogue code for a failed queue write: a full disk (or database size limit) is DISK_FULL, a
 * duplicate key CONFLICT, anything else QUEUE_UNAVAILABLE. Callers only ever see these, never raw
 * SQLite or file system errors.
 */
export function writeErrorCode(error: unknown): ErrorCode {
  if (isOutpostError(error)) return error.code;
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (typeof code !== 'string') return 'QUEUE_UNAVAILABLE';
  if (DISK_FULL_CODES.has(code)) return 'DISK_FULL';
  if (CONFLICT_CODES.has(code)) return 'CONFLICT';
  return 'QUEUE_UNAVAILABLE';
}

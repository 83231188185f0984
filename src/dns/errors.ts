import type { DnsError } from './types.js';

/** The codes a DNS lookup can fail with (node's codes plus EBUDGET). */
export type DnsErrorCode = DnsError['code'];

/** A failed lookup, shaped like node's dns errors: `queryMx ENOTFOUND example.test`. */
export class DnsLookupError extends Error implements DnsError {
  readonly code: DnsErrorCode;
  readonly hostname: string;
  readonly syscall: string;
  /** What went wrong beyond the code (which server, why), for logs. */
  readonly detail: string | undefined;

  constructor(code: DnsErrorCode, hostname: string, syscall: string, detail?: string) {
    super(`${syscall} ${code} ${hostname}${detail ? ` (${detail})` : ''}`);
    this.name = 'DnsError';
    this.code = code;
    this.hostname = hostname;
    this.syscall = syscall;
    this.detail = detail;
  }
}

/**
 * The error for a negative answer (NXDOMAIN, NODATA). Such answers are outcomes callers expect
 * (a host without AAAA, a domain without DMARC), often straight from the cache, so no stack trace
 * is taken: capturing one cost about 9 us of a lookup that otherwise costs 1.
 */
export function negativeAnswer(code: DnsErrorCode, hostname: string, syscall: string): DnsLookupError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DnsLookupError(code, hostname, syscall);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Node's syscall label for a query of `type`: queryA, queryAaaa, queryMx, queryTxt, ... */
export function syscallFor(type: string): string {
  return `query${type.charAt(0)}${type.slice(1).toLowerCase()}`;
}

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

/** Node's syscall label for a query of `type`: queryA, queryAaaa, queryMx, queryTxt, ... */
export function syscallFor(type: string): string {
  return `query${type.charAt(0)}${type.slice(1).toLowerCase()}`;
}

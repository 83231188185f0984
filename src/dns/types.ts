/**
 * The DNS contract every part of outpost programs against. Shapes follow node's dns.promises so
 * libraries such as mailauth can take `resolver.resolve` directly; errors carry node's codes:
 * ENOTFOUND (NXDOMAIN), ENODATA (name exists, no records of that type), ETIMEOUT, ESERVFAIL,
 * EREFUSED, EBUDGET (the per-message lookup budget is spent).
 */
export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'SRV' | 'CNAME' | 'NS' | 'SOA';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DnsError extends Error {
  code: 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT' | 'ESERVFAIL' | 'EREFUSED' | 'EBUDGET' | 'EBADNAME';
  hostname: string;
}

export interface Resolver {
  /** Generic entry point in node's dns.promises.resolve shape (TXT answers as string[][]). */
  resolve(name: string, type: RecordType): Promise<unknown[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
  resolvePtr(name: string): Promise<string[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolveCname(name: string): Promise<string[]>;
  /** PTR names of an IPv4 or IPv6 address. */
  reverse(ip: string): Promise<string[]>;
}

export function isDnsError(error: unknown): error is DnsError {
  return error instanceof Error && typeof (error as Partial<DnsError>).code === 'string';
}

/** NXDOMAIN and NODATA mean "no such records", not a failure. */
export function isNoRecords(error: unknown): boolean {
  return isDnsError(error) && (error.code === 'ENOTFOUND' || error.code === 'ENODATA');
}

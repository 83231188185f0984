import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import { nameProblem, normalizeName } from './names.js';
import type { RecordType } from './types.js';

/** MX data as in a zone file: `MX <preference> <exchange>` ('' exchange is the null MX). */
export interface MxData {
  preference: number;
  exchange: string;
}

/** SRV data: `SRV <priority> <weight> <port> <target>`. */
export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** SOA data; `minimum` caps how long resolvers cache negative answers (RFC 2308). */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** The data each record type carries. TXT is the list of character-strings of one record. */
export interface RecordDataMap {
  A: string;
  AAAA: string;
  MX: MxData;
  TXT: string[];
  PTR: string;
  CNAME: string;
  NS: string;
  SRV: SrvData;
  SOA: SoaData;
}

/** One resource record of a given type. */
export interface ZoneRecordOf<T extends RecordType> {
  name: string;
  type: T;
  ttl: number;
  data: RecordDataMap[T];
}

/** One resource record; `type` tells which data it carries. */
export type ZoneRecord = { [T in RecordType]: ZoneRecordOf<T> }[RecordType];

/** The largest TTL DNS allows (RFC 2181 section 8). */
export const MAX_TTL = 2_147_483_647;
const MAX_CHARACTER_STRING = 255;
/** Below this many UTF-16 units a string cannot exceed 255 UTF-8 bytes, so no need to measure. */
const SURELY_SHORT = 85;

/** Splits one TXT string into character-strings of at most 255 bytes, never inside a UTF-8 sequence. */
export function splitCharacterStrings(text: string): string[] {
  if (text.length <= SURELY_SHORT || Buffer.byteLength(text) <= MAX_CHARACTER_STRING) return [text];
  const bytes = Buffer.from(text, 'utf8');
  const parts: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + MAX_CHARACTER_STRING, bytes.length);
    // Step back over continuation bytes (10xxxxxx) so a character is never cut in two.
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    parts.push(bytes.toString('utf8', start, end));
    start = end;
  }
  return parts;
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

function checkHostName(label: string, value: string, allowRoot = false): string | undefined {
  const problem = nameProblem(value, allowRoot);
  return problem ? `${label} '${value}': ${problem}` : undefined;
}

function dataProblem(record: ZoneRecord): string | undefined {
  switch (record.type) {
    case 'A':
      return isIPv4(record.data) ? undefined : `not an IPv4 address: '${record.data}'`;
    case 'AAAA':
      return isIPv6(record.data) ? undefined : `not an IPv6 address: '${record.data}'`;
    case 'MX':
      if (!isUint(record.data.preference, 65535)) return 'MX preference must be 0..65535';
      return checkHostName('MX exchange', record.data.exchange, true);
    case 'TXT':
      return record.data.every((text) => typeof text === 'string') ? undefined : 'TXT data must be strings';
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return checkHostName(`${record.type} target`, record.data);
    case 'SRV': {
      const { priority, weight, port, target } = record.data;
      if (![priority, weight, port].every((n) => isUint(n, 65535))) return 'SRV numbers must be 0..65535';
      return checkHostName('SRV target', target, true);
    }
    case 'SOA': {
      const { mname, rname, serial, refresh, retry, expire, minimum } = record.data;
      if (![serial, refresh, retry, expire, minimum].every((n) => isUint(n, 0xffffffff))) {
        return 'SOA numbers must be 0..4294967295';
      }
      return checkHostName('SOA mname', mname) ?? checkHostName('SOA rname', rname);
    }
  }
}

/** Why a record cannot be served, or undefined when it is fine. */
export function recordProblem(record: ZoneRecord): string | undefined {
  const owner = nameProblem(record.name);
  if (owner) return `owner '${record.name}': ${owner}`;
  if (!isUint(record.ttl, MAX_TTL)) return `TTL must be 0..${MAX_TTL}`;
  return dataProblem(record);
}

/**
 * The stored form of a valid record: names in normal form, TXT strings split into 255-byte
 * character-strings (an empty TXT becomes one empty string). Returns a new object.
 */
export function normalizeRecord(record: ZoneRecord): ZoneRecord {
  const name = normalizeName(record.name);
  const base = { name, ttl: record.ttl };
  switch (record.type) {
    case 'A':
      return { ...base, type: 'A', data: record.data };
    case 'AAAA':
      return { ...base, type: 'AAAA', data: record.data.toLowerCase() };
    case 'MX':
      return { ...base, type: 'MX', data: { ...record.data, exchange: normalizeName(record.data.exchange) } };
    case 'TXT': {
      const strings = record.data.flatMap(splitCharacterStrings);
      return { ...base, type: 'TXT', data: strings.length === 0 ? [''] : strings };
    }
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return { ...base, type: record.type, data: normalizeName(record.data) };
    case 'SRV':
      return { ...base, type: 'SRV', data: { ...record.data, target: normalizeName(record.data.target) } };
    case 'SOA': {
      const data = { ...record.data, mname: normalizeName(record.data.mname) };
      return { ...base, type: 'SOA', data: { ...data, rname: normalizeName(record.data.rname) } };
    }
  }
}

/** Same type and data (owner and TTL aside): RRsets are sets, so such a record is a duplicate. */
export function sameData(a: ZoneRecord, b: ZoneRecord): boolean {
  if (a.type !== b.type) return false;
  const [x, y]: unknown[] = [a.data, b.data];
  if (Array.isArray(x) && Array.isArray(y))
    return x.length === y.length && x.every((text, i) => text === y[i]);
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return x === y;
  const left = x as Record<string, unknown>;
  const right = y as Record<string, unknown>;
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => left[key] === right[key]);
}

/** The record as a dns-packet answer under `owner` (fresh objects: dns-packet mutates TXT data). */
export function toWireAnswer(record: ZoneRecord, owner: string = record.name): Answer {
  const base = { name: owner, ttl: record.ttl, class: 'IN' as const };
  switch (record.type) {
    case 'A':
    case 'AAAA':
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return { ...base, type: record.type, data: record.data };
    case 'MX':
      return { ...base, type: 'MX', data: { ...record.data } };
    case 'TXT':
      return { ...base, type: 'TXT', data: record.data.map((text) => Buffer.from(text, 'utf8')) };
    case 'SRV':
      return { ...base, type: 'SRV', data: { ...record.data } };
    case 'SOA':
      return { ...base, type: 'SOA', data: { ...record.data } };
  }
}

function textOf(data: string | Buffer): string {
  return typeof data === 'string' ? data : data.toString('utf8');
}

/** A dns-packet answer as a ZoneRecord (names in normal form), or undefined for types outpost does not model. */
export function fromWireAnswer(answer: Answer): ZoneRecord | undefined {
  const base = { name: normalizeName(answer.name), ttl: 'ttl' in answer ? (answer.ttl ?? 0) : 0 };
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return { ...base, type: answer.type, data: answer.data };
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return { ...base, type: answer.type, data: normalizeName(answer.data) };
    case 'MX':
      return {
        ...base,
        type: 'MX',
        data: { preference: answer.data.preference ?? 0, exchange: normalizeName(answer.data.exchange) },
      };
    case 'TXT': {
      const parts = Array.isArray(answer.data) ? answer.data : [answer.data];
      return { ...base, type: 'TXT', data: parts.map(textOf) };
    }
    case 'SRV': {
      const { priority = 0, weight = 0, port, target } = answer.data;
      return { ...base, type: 'SRV', data: { priority, weight, port, target: normalizeName(target) } };
    }
    case 'SOA': {
      const { mname, rname, serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0 } = answer.data;
      const names = { mname: normalizeName(mname), rname: normalizeName(rname) };
      return { ...base, type: 'SOA', data: { ...names, serial, refresh, retry, expire, minimum } };
    }
    default:
      return undefined;
  }
}

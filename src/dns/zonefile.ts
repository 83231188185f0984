import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { isSubdomain, nameProblem, normalizeName } from './names.js';
import { MAX_TTL, type RecordDataMap, recordProblem, type ZoneRecord } from './records.js';
import type { RecordType } from './types.js';
import { type SoaRecord, type ZoneData, ZoneSet } from './zone.js';
import { decodeEscapes, type Entry, type Token, ZoneSyntaxError, zoneEntries } from './zonefile-lexer.js';

/** A zone file problem, naming the file and the line (or TOML record) it is about. */
export class ZoneFileError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
    this.name = 'ZoneFileError';
  }
}

/** How to read a master file. */
export interface ZoneParseOptions {
  /** Named in error messages. */
  fileName: string;
  /** The zone to start with, as if the file began with $ORIGIN. */
  origin?: string;
  /**
   * TTL of records that give none, as if the file began with `$TTL`. Without it such records take
   * the last TTL written (RFC 1035), or 3600 before any.
   */
  defaultTtl?: number;
}

const DEFAULT_TTL = 3600;
const PLAIN_NUMBER = /^\d+$/;
const TTL_WITH_UNITS = /^(\d+[smhdw])+$/i;
const TTL_PART = /(\d+)([smhdw])/gi;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const SUPPORTED_TYPES = new Set<string>(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SRV', 'SOA']);
const OTHER_CLASSES = new Set(['CH', 'HS', 'CS', 'ANY']);

/** A TTL in seconds: '3600' or BIND units ('1h30m', '2d'); undefined when the word is neither. */
function ttlValue(word: string): number | undefined {
  if (PLAIN_NUMBER.test(word)) return Number(word);
  if (!TTL_WITH_UNITS.test(word)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of word.matchAll(TTL_PART)) {
    seconds += Number(amount) * (UNIT_SECONDS[(unit ?? 's').toLowerCase()] ?? 1);
  }
  return seconds;
}

function fail(line: number, message: string): never {
  throw new ZoneSyntaxError(line, message);
}

function numberIn(token: Token | undefined, line: number, what: string, max: number, units = false): number {
  const text = token?.text ?? '';
  const value = units ? ttlValue(text) : PLAIN_NUMBER.test(text) ? Number(text) : undefined;
  if (value === undefined || value > max) fail(line, `${what} must be a number 0..${max}, got '${text}'`);
  return value;
}

/** Splits a written name into labels at dots that are not escaped; returns whether it ended with a dot. */
function labelsOf(raw: string, line: number): { labels: string[]; absolute: boolean } {
  const labels: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw.charAt(i) === '\\') i++;
    else if (raw.charAt(i) === '.') {
      labels.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  const absolute = start === raw.length && raw.length > 0;
  if (!absolute) labels.push(raw.slice(start));
  const decoded = labels.map((label) => decodeEscapes(label, line));
  if (raw === '.') return { labels: [], absolute: true };
  if (decoded.some((label) => label === '')) fail(line, `empty label in name '${raw}'`);
  if (decoded.some((label) => label.includes('.')))
    fail(line, `escaped '.' inside a label is not supported: '${raw}'`);
  return { labels: decoded, absolute };
}

/** Reads master-file entries into zones; see parseZoneFile for which zones a file defines. */
class ZoneBuilder {
  private origin: string | undefined;
  private ttl: number | undefined;
  private lastTtl: number | undefined;
  private lastOwner: string | undefined;
  private readonly zones = new Map<string, ZoneData>();

  constructor(private readonly defaultTtl: number) {}

  startZone(origin: string): void {
    this.origin = origin;
    if (!this.zones.has(origin)) this.zones.set(origin, { origin, records: [] });
  }

  setDefaultTtl(ttl: number): void {
    this.ttl = ttl;
  }

  read(entry: Entry): void {
    const first = entry.tokens[0];
    if (!entry.ownerOmitted && first && !first.quoted && first.raw.startsWith('$')) this.directive(entry);
    else this.place(this.record(entry), entry.line);
  }

  result(): ZoneData[] {
    return [...this.zones.values()];
  }

  private name(token: Token | undefined, line: number, allowRoot = false): string {
    if (!token) fail(line, 'missing name');
    if (token.quoted) fail(line, `a name cannot be quoted: "${token.raw}"`);
    if (token.raw === '@') return this.origin ?? fail(line, "'@' used before $ORIGIN");
    const { labels, absolute } = labelsOf(token.raw, line);
    if (!absolute && this.origin === undefined) fail(line, `relative name '${token.raw}' without $ORIGIN`);
    const relativeTo = absolute || this.origin === '' ? [] : [this.origin];
    const name = normalizeName([...labels, ...relativeTo].join('.'));
    const problem = nameProblem(name, allowRoot);
    if (problem) fail(line, `bad name '${token.raw}': ${problem}`);
    return name;
  }

  private directive({ tokens, line }: Entry): void {
    const [keyword, value, extra] = tokens;
    const word = keyword?.raw.toUpperCase();
    if (word === '$INCLUDE') fail(line, '$INCLUDE is not supported');
    if (word !== '$ORIGIN' && word !== '$TTL') fail(line, `unknown directive '${keyword?.raw}'`);
    if (!value || extra) fail(line, `${word} takes exactly one value`);
    if (word === '$TTL') {
      this.ttl = numberIn(value, line, '$TTL', MAX_TTL, true);
      return;
    }
    const origin = this.name(value, line);
    const known = [...this.zones.keys()].some((zone) => isSubdomain(origin, zone));
    if (known) this.origin = origin;
    else this.startZone(origin);
  }

  private record(entry: Entry): ZoneRecord {
    const { tokens, line } = entry;
    let index = 0;
    const owner = entry.ownerOmitted ? this.lastOwner : this.name(tokens[index++], line);
    if (owner === undefined) fail(line, 'no owner name and no previous record to take it from');
    this.lastOwner = owner;
    let ttl: number | undefined;
    let sawClass = false;
    for (let token = tokens[index]; token; token = tokens[++index]) {
      const word = token.text.toUpperCase();
      if (ttl === undefined && ttlValue(token.text) !== undefined)
        ttl = numberIn(token, line, 'TTL', MAX_TTL, true);
      else if (!sawClass && word === 'IN') sawClass = true;
      else if (!sawClass && OTHER_CLASSES.has(word)) fail(line, `class ${word} is not supported, only IN`);
      else break;
    }
    const typeWord = tokens[index]?.text.toUpperCase();
    if (!typeWord) fail(line, 'missing record type');
    if (!SUPPORTED_TYPES.has(typeWord)) fail(line, `unsupported record type '${tokens[index]?.text}'`);
    const type = typeWord as RecordType;
    if (ttl !== undefined) this.lastTtl = ttl;
    const effectiveTtl = ttl ?? this.ttl ?? this.lastTtl ?? this.defaultTtl;
    const data = this.data(type, tokens.slice(index + 1), line);
    const record = { name: owner, type, ttl: effectiveTtl, data } as ZoneRecord;
    const problem = recordProblem(record);
    if (problem) fail(line, problem);
    return record;
  }

  private data(type: RecordType, rdata: Token[], line: number): RecordDataMap[RecordType] {
    const expect = (count: number, usage: string): void => {
      if (rdata.length !== count) fail(line, `${type} takes ${usage}, got ${rdata.length} value(s)`);
    };
    switch (type) {
      case 'A':
      case 'AAAA':
        expect(1, 'one address');
        return rdata[0]?.text ?? '';
      case 'PTR':
      case 'CNAME':
      case 'NS':
        expect(1, 'one name');
        return this.name(rdata[0], line);
      case 'MX':
        expect(2, '<preference> <exchange>');
        return {
          preference: numberIn(rdata[0], line, 'MX preference', 65535),
          exchange: this.name(rdata[1], line, true),
        };
      case 'TXT':
        if (rdata.length === 0) fail(line, 'TXT takes one or more strings');
        return rdata.map((token) => token.text);
      case 'SRV':
        expect(4, '<priority> <weight> <port> <target>');
        return {
          priority: numberIn(rdata[0], line, 'SRV priority', 65535),
          weight: numberIn(rdata[1], line, 'SRV weight', 65535),
          port: numberIn(rdata[2], line, 'SRV port', 65535),
          target: this.name(rdata[3], line, true),
        };
      case 'SOA': {
        expect(7, '<mname> <rname> <serial> <refresh> <retry> <expire> <minimum>');
        const [mname, rname, serial, refresh, retry, expire, minimum] = rdata;
        return {
          mname: this.name(mname, line),
          rname: this.name(rname, line),
          serial: numberIn(serial, line, 'SOA serial', 0xffffffff),
          refresh: numberIn(refresh, line, 'SOA refresh', MAX_TTL, true),
          retry: numberIn(retry, line, 'SOA retry', MAX_TTL, true),
          expire: numberIn(expire, line, 'SOA expire', MAX_TTL, true),
          minimum: numberIn(minimum, line, 'SOA minimum', MAX_TTL, true),
        };
      }
    }
  }

  /** Files the record under the deepest zone holding it; an SOA starts its zone when none exists. */
  private place(record: ZoneRecord, line: number): void {
    if (record.type === 'SOA') {
      const zone = this.zones.get(record.name) ?? { origin: record.name, records: [] };
      if (zone.soa) fail(line, `second SOA for zone ${record.name}`);
      zone.soa = record as SoaRecord;
      this.zones.set(record.name, zone);
      return;
    }
    let home: ZoneData | undefined;
    for (const zone of this.zones.values()) {
      const deeper = !home || zone.origin.length > home.origin.length;
      if (deeper && isSubdomain(record.name, zone.origin)) home = zone;
    }
    if (!home) {
      const zones = [...this.zones.keys()].join(', ') || 'none: add $ORIGIN or an SOA';
      fail(line, `${record.name} is outside the zones of this file (${zones})`);
    }
    home.records.push(record);
  }
}

function located(error: unknown, where: (line: number) => string): unknown {
  return error instanceof ZoneSyntaxError ? new ZoneFileError(where(error.line), error.message) : error;
}

/**
 * Parses an RFC 1035 master file. A zone starts at `options.origin`, at each SOA record, and at
 * each $ORIGIN that is not inside a zone already started; every record must fall in one of them.
 * Throws ZoneFileError naming the file and line.
 */
export function parseZoneFile(text: string, options: ZoneParseOptions): ZoneData[] {
  const builder = new ZoneBuilder(DEFAULT_TTL);
  if (options.defaultTtl !== undefined) builder.setDefaultTtl(options.defaultTtl);
  try {
    if (options.origin !== undefined) builder.startZone(normalizeName(options.origin));
    for (const entry of zoneEntries(text)) builder.read(entry);
  } catch (error) {
    throw located(error, (line) => `${options.fileName}:${line}`);
  }
  return builder.result();
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One [[zones]] table of a TOML zone file (origin, optional ttl, records as zone-file lines). */
function zonesFromTable(table: unknown, fileName: string, path: string): ZoneData[] {
  const where = `${fileName}: ${path}`;
  if (!isTable(table)) throw new ZoneFileError(where, 'must be a table');
  const { origin, ttl, records = [], ...unknown } = table;
  const extra = Object.keys(unknown);
  if (extra.length > 0)
    throw new ZoneFileError(`${where}.${extra[0]}`, 'unknown key (expected origin, ttl, records)');
  if (typeof origin !== 'string' || nameProblem(normalizeName(origin))) {
    throw new ZoneFileError(`${where}.origin`, 'must be a domain name');
  }
  if (ttl !== undefined && !(Number.isInteger(ttl) && Number(ttl) >= 0 && Number(ttl) <= MAX_TTL)) {
    throw new ZoneFileError(`${where}.ttl`, `must be a whole number of seconds 0..${MAX_TTL}`);
  }
  if (!Array.isArray(records)) throw new ZoneFileError(`${where}.records`, 'must be an array of strings');
  const builder = new ZoneBuilder(DEFAULT_TTL);
  builder.startZone(normalizeName(origin));
  if (typeof ttl === 'number') builder.setDefaultTtl(ttl);
  records.forEach((line: unknown, index) => {
    const recordPath = `${where}.records[${index}]`;
    if (typeof line !== 'string') throw new ZoneFileError(recordPath, 'must be a string');
    try {
      for (const entry of zoneEntries(line)) builder.read(entry);
    } catch (error) {
      throw located(error, () => recordPath);
    }
  });
  return builder.result();
}

/** Zones from a parsed TOML document with [[zones]] tables. Throws ZoneFileError naming the key. */
export function zonesFromToml(parsed: unknown, fileName: string): ZoneData[] {
  if (!isTable(parsed) || !Array.isArray(parsed.zones)) {
    throw new ZoneFileError(fileName, 'expected [[zones]] tables (origin, ttl, records)');
  }
  return parsed.zones.flatMap((table: unknown, index) => zonesFromTable(table, fileName, `zones[${index}]`));
}

/** Reads a zone file: TOML when the name ends in .toml, an RFC 1035 master file otherwise. */
export async function loadZoneFile(path: string): Promise<ZoneData[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ZoneFileError(path, `cannot read zone file (${code})`);
  }
  if (!path.toLowerCase().endsWith('.toml')) return parseZoneFile(text, { fileName: path });
  let parsed: unknown;
  try {
    parsed = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    throw new ZoneFileError(`${path}:${error.line}`, error.message.split('\n')[0] ?? 'invalid TOML');
  }
  return zonesFromToml(parsed, path);
}

/**
 * Reads several zone files and checks that their records can be served together (CNAME rules,
 * one definition per zone), so ZoneSet.replaceAll will accept the result. Errors name the file.
 */
export async function loadZoneFiles(paths: readonly string[]): Promise<ZoneData[]> {
  const all: ZoneData[] = [];
  const definedIn = new Map<string, string>();
  for (const path of paths) {
    const zones = await loadZoneFile(path);
    try {
      new ZoneSet().replaceAll(zones);
    } catch (error) {
      throw new ZoneFileError(path, error instanceof Error ? error.message : String(error));
    }
    for (const zone of zones) {
      const earlier = definedIn.get(zone.origin);
      if (earlier) throw new ZoneFileError(path, `zone ${zone.origin} is already defined in ${earlier}`);
      definedIn.set(zone.origin, path);
    }
    all.push(...zones);
  }
  return all;
}

import { isSubdomain, nameProblem, normalizeName, parentName } from './names.js';
import {
  normalizeRecord,
  recordProblem,
  type SoaData,
  sameData,
  type ZoneRecord,
  type ZoneRecordOf,
} from './records.js';
import type { RecordType } from './types.js';

export type { MxData, RecordDataMap, SoaData, SrvData, ZoneRecord, ZoneRecordOf } from './records.js';

/** An SOA record. */
export type SoaRecord = ZoneRecordOf<'SOA'>;

/** One zone's content as parsers produce it; ZoneSet.replaceAll takes a list of these. */
export interface ZoneData {
  origin: string;
  soa?: SoaRecord;
  records: ZoneRecord[];
}

/** What an authoritative lookup found. Answers carry the owner names asked for (wildcards expanded). */
export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  answers: ZoneRecord[];
  /** The zone's SOA on negative answers (NXDOMAIN and NODATA), for negative caching. */
  authority: ZoneRecord[];
}

/** Defaults for a zone added without an SOA: negative answers cached for 60 s. */
const DEFAULT_SOA: Omit<SoaData, 'mname' | 'rname'> & { ttl: number } = {
  ttl: 3600,
  serial: 1,
  refresh: 3600,
  retry: 600,
  expire: 604_800,
  minimum: 60,
};
/** How many in-zone CNAMEs one lookup follows before answering with what it has. */
const MAX_CNAME_HOPS = 8;

type RRsets = Map<string, ZoneRecord[]>;

/** One zone: records by owner name and type, plus which names exist (have data at or below them). */
class Zone {
  readonly nodes = new Map<string, RRsets>();
  /** For each name at or above an owner (up to the origin): how many owners lie at or below it. */
  private readonly population = new Map<string, number>();
  soa: SoaRecord;

  constructor(
    readonly origin: string,
    soa: SoaRecord,
  ) {
    this.soa = soa;
    this.put(soa);
  }

  /** A name exists when it owns records or is an empty non-terminal (RFC 4592 section 2.2.2). */
  exists(name: string): boolean {
    return this.population.has(name);
  }

  put(record: ZoneRecord): void {
    const rrsets = this.node(record.name);
    const existing = rrsets.get(record.type);
    if (!existing || record.type === 'SOA') this.setRRset(record.name, record.type, [record]);
    else if (!existing.some((other) => sameData(other, record))) existing.push(record);
  }

  /** Replaces (or with an empty list removes) one RRset; returns how many records it had. */
  setRRset(name: string, type: string, records: ZoneRecord[]): number {
    const removed = this.nodes.get(name)?.get(type)?.length ?? 0;
    if (records.length > 0) {
      const unique: ZoneRecord[] = [];
      for (const record of records) if (!unique.some((other) => sameData(other, record))) unique.push(record);
      this.node(name).set(type, unique);
      if (unique[0]?.type === 'SOA') this.soa = unique[0];
      return removed;
    }
    const rrsets = this.nodes.get(name);
    if (!rrsets) return 0;
    rrsets.delete(type);
    if (rrsets.size === 0) {
      this.nodes.delete(name);
      this.adjustPopulation(name, -1);
    }
    return removed;
  }

  private node(name: string): RRsets {
    let rrsets = this.nodes.get(name);
    if (!rrsets) {
      rrsets = new Map();
      this.nodes.set(name, rrsets);
      this.adjustPopulation(name, 1);
    }
    return rrsets;
  }

  private adjustPopulation(owner: string, delta: number): void {
    let name: string | undefined = owner;
    while (name !== undefined && isSubdomain(name, this.origin)) {
      const count = (this.population.get(name) ?? 0) + delta;
      if (count > 0) this.population.set(name, count);
      else this.population.delete(name);
      name = name === this.origin ? undefined : parentName(name);
    }
  }
}

function invalid(problem: string): Error {
  return new Error(`invalid record: ${problem}`);
}

/** A valid record in stored form, or an error naming what is wrong. */
function prepare(record: ZoneRecord): ZoneRecord {
  const problem = recordProblem(record);
  if (problem) throw invalid(problem);
  return normalizeRecord(record);
}

function defaultSoa(origin: string, soa: Partial<SoaData> & { ttl?: number } = {}): SoaRecord {
  const { ttl = DEFAULT_SOA.ttl, ...data } = soa;
  return prepare({
    name: origin,
    type: 'SOA',
    ttl,
    data: {
      mname: `ns.${origin}`,
      rname: `hostmaster.${origin}`,
      serial: DEFAULT_SOA.serial,
      refresh: DEFAULT_SOA.refresh,
      retry: DEFAULT_SOA.retry,
      expire: DEFAULT_SOA.expire,
      minimum: DEFAULT_SOA.minimum,
      ...data,
    },
  }) as SoaRecord;
}

/**
 * In-memory authoritative data for several zones. Lookups follow RFC 1034 (CNAMEs inside our
 * zones are followed) and RFC 4592 wildcards; names compare case-insensitively. Updates are
 * synchronous, so a running server answers from the new data at once.
 */
export class ZoneSet {
  private zones = new Map<string, Zone>();

  /** Starts serving `origin`. Without an SOA one is made up (mname ns.<origin>, minimum 60 s). */
  addZone(origin: string, soa?: Partial<SoaData> & { ttl?: number }): void {
    const name = normalizeName(origin);
    const problem = nameProblem(name);
    if (problem) throw new Error(`invalid zone origin '${origin}': ${problem}`);
    if (this.zones.has(name)) throw new Error(`zone ${name} already exists`);
    this.zones.set(name, new Zone(name, defaultSoa(name, soa)));
  }

  /** Stops serving a zone; returns whether it existed. */
  removeZone(origin: string): boolean {
    return this.zones.delete(normalizeName(origin));
  }

  /** The origins served, in the order they were added. */
  origins(): string[] {
    return [...this.zones.keys()];
  }

  /** Every record of one zone (SOA first), e.g. for export. */
  recordsOf(origin: string): ZoneRecord[] {
    const zone = this.zones.get(normalizeName(origin));
    if (!zone) return [];
    const all: ZoneRecord[] = [zone.soa];
    for (const rrsets of zone.nodes.values()) {
      for (const [type, records] of rrsets) if (type !== 'SOA') all.push(...records);
    }
    return all;
  }

  /** Adds one record (duplicates are ignored); throws when it is invalid or outside every zone. */
  add(record: ZoneRecord): void {
    const stored = prepare(record);
    const zone = this.zoneFor(stored.name, record.name);
    checkCnameRules(
      stored.name,
      zone.nodes.get(stored.name),
      stored.type,
      stored.type === 'CNAME' ? [stored] : [],
    );
    if (stored.type === 'SOA' && stored.name !== zone.origin) throw invalid(`SOA must be at ${zone.origin}`);
    zone.put(stored);
  }

  /** Removes the records of one type (or all but the zone's SOA) at a name; returns how many went. */
  remove(name: string, type?: RecordType): number {
    const owner = normalizeName(name);
    const zone = this.zoneFor(owner, name);
    if (type === 'SOA') throw new Error('the SOA of a zone cannot be removed; use removeZone');
    const rrsets = zone.nodes.get(owner);
    if (!rrsets) return 0;
    const types = type ? [type] : [...rrsets.keys()].filter((t) => t !== 'SOA');
    return types.reduce((count, t) => count + zone.setRRset(owner, t, []), 0);
  }

  /** Replaces the RRset at name/type with `records` (all of that name and type); [] removes it. */
  replace(name: string, type: RecordType, records: ZoneRecord[]): void {
    const owner = normalizeName(name);
    const zone = this.zoneFor(owner, name);
    const stored = records.map(prepare);
    for (const record of stored) {
      if (record.name !== owner || record.type !== type) {
        throw invalid(`replace(${owner}, ${type}) got a ${record.type} record for ${record.name}`);
      }
    }
    if (stored.length > 0) {
      const others = new Map(zone.nodes.get(owner));
      others.delete(type);
      checkCnameRules(owner, others, type, type === 'CNAME' ? stored : []);
    }
    if (type === 'SOA' && (stored.length !== 1 || owner !== zone.origin)) {
      throw invalid(`a zone has exactly one SOA, at ${zone.origin}`);
    }
    zone.setRRset(owner, type, stored);
  }

  /** Replaces all zones at once; nothing changes when any zone or record is invalid. */
  replaceAll(zones: ZoneData[]): void {
    const next = new ZoneSet();
    for (const zone of zones) next.addZone(zone.origin);
    for (const zone of zones) {
      if (zone.soa) next.add(zone.soa);
      for (const record of zone.records) next.add(record);
    }
    this.zones = next.zones;
  }

  /** The origin of the zone authoritative for a name, or undefined. */
  zoneOf(name: string): string | undefined {
    return this.findZone(normalizeName(name))?.origin;
  }

  /** Answers a question the way an authoritative server does; REFUSED when no zone holds the name. */
  lookup(name: string, type: string): ZoneAnswer {
    let current = normalizeName(name);
    let zone = this.findZone(current);
    if (!zone) return { rcode: 'REFUSED', answers: [], authority: [] };
    const answers: ZoneRecord[] = [];
    const qtype = type.toUpperCase();
    for (let hops = 0; ; hops++) {
      const rrsets =
        zone.nodes.get(current) ?? (zone.exists(current) ? undefined : wildcardFor(zone, current));
      if (!rrsets && !zone.exists(current)) return { rcode: 'NXDOMAIN', answers, authority: [zone.soa] };
      const found = rrsets ? matching(rrsets, qtype) : [];
      if (found.length > 0) {
        answers.push(...ownedBy(found, current));
        return { rcode: 'NOERROR', answers, authority: [] };
      }
      const alias = qtype === 'CNAME' ? undefined : rrsets?.get('CNAME')?.[0];
      if (alias?.type !== 'CNAME') return { rcode: 'NOERROR', answers, authority: [zone.soa] };
      answers.push(...ownedBy([alias], current));
      const nextZone = this.findZone(alias.data);
      // Out of our zones, looping, or too long: the querier continues from the last CNAME.
      if (!nextZone || hops >= MAX_CNAME_HOPS || answers.some((r) => r.name === alias.data)) {
        return { rcode: 'NOERROR', answers, authority: [] };
      }
      current = alias.data;
      zone = nextZone;
    }
  }

  private findZone(name: string): Zone | undefined {
    let candidate: string | undefined = name;
    while (candidate !== undefined) {
      const zone = this.zones.get(candidate);
      if (zone) return zone;
      candidate = parentName(candidate);
    }
    return undefined;
  }

  private zoneFor(owner: string, asGiven: string): Zone {
    const zone = this.findZone(owner);
    if (!zone)
      throw new Error(`'${asGiven}' is not inside any zone (${this.origins().join(', ') || 'none'})`);
    return zone;
  }
}

/** RFC 1034: a name with a CNAME has no other data, and at most one CNAME. */
function checkCnameRules(
  owner: string,
  rrsets: RRsets | undefined,
  type: string,
  cnames: ZoneRecord[],
): void {
  if (type === 'CNAME') {
    const others = [...(rrsets?.keys() ?? [])].filter((t) => t !== 'CNAME');
    if (others.length > 0) throw invalid(`${owner} has ${others.join(', ')} data, so it cannot be a CNAME`);
    const all = [...(rrsets?.get('CNAME') ?? []), ...cnames];
    if (all.some((record) => !sameData(record, all[0] ?? record))) throw invalid(`${owner} has two CNAMEs`);
  } else if (rrsets?.has('CNAME')) {
    throw invalid(`${owner} is a CNAME, so it cannot have ${type} data`);
  }
}

/** RFC 4592: the wildcard at the closest encloser answers for a name that does not exist. */
function wildcardFor(zone: Zone, name: string): RRsets | undefined {
  let encloser = parentName(name);
  while (encloser !== undefined && !zone.exists(encloser)) encloser = parentName(encloser);
  if (encloser === undefined || !isSubdomain(encloser, zone.origin)) return undefined;
  return zone.nodes.get(`*.${encloser}`);
}

function matching(rrsets: RRsets, qtype: string): ZoneRecord[] {
  if (qtype !== 'ANY') return rrsets.get(qtype) ?? [];
  return [...rrsets.values()].flat();
}

function ownedBy(records: ZoneRecord[], owner: string): ZoneRecord[] {
  return records[0]?.name === owner ? records : records.map((record) => ({ ...record, name: owner }));
}

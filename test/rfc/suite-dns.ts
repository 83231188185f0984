import { createSocket, type Socket } from 'node:dgram';
import type { TestContext } from 'node:test';
import { decode } from 'dns-packet';
import { normalizeName } from '../../src/dns/names.js';
import { type CachingResolver, createResolver } from '../../src/dns/resolver.js';
import { answerQuery } from '../../src/dns/respond.js';
import { type ZoneAnswer, type ZoneRecord, ZoneSet } from '../../src/dns/zone.js';
import type { YamlValue } from './yaml-subset.js';

/**
 * The DNS world of one RFC 7208 suite document, served by outpost's own query answering
 * (`answerQuery`, the code behind src/dns/server.ts) over real UDP packets on loopback.
 *
 * The suite's zonedata conventions (those of pyspf's testspf.py, the reference driver):
 * - `SPF:` records are the retired type 99; a driver serves them as TXT too, unless the name has
 *   TXT records of its own. Type 99 itself is never asked for (RFC 7208 removed it), and ZoneSet
 *   cannot hold it, so only the TXT copies are served.
 * - `TXT: NONE` means "no TXT records here" (and stops the SPF-to-TXT copy).
 * - A bare `TIMEOUT` entry makes every query for that name whose type has no records listed
 *   before it time out; `TYPE: TIMEOUT` times out that type only. Our server cannot be told to
 *   stay silent, so this wrapper drops those queries before they reach it.
 * - Names nobody lists do not exist: the wrapper answers NXDOMAIN where our server, which is
 *   authoritative only for its zones and has no root zone, would say REFUSED.
 */

/** Answers questions the suite's way: names outside every zone do not exist. */
class SuiteZones extends ZoneSet {
  override lookup(name: string, type: string): ZoneAnswer {
    const answer = super.lookup(name, type);
    return answer.rcode === 'REFUSED' ? { rcode: 'NXDOMAIN', answers: [], authority: [] } : answer;
  }
}

/** What the suite's zonedata becomes: records to serve and the questions that must time out. */
export interface SuiteWorld {
  records: ZoneRecord[];
  /** `name` (normal form) -> the types answered there; every other type times out. */
  timeoutExcept: Map<string, Set<string>>;
  /** `TYPE name` pairs that time out. */
  timeoutTypes: Set<string>;
}

const TTL = 300;

function asStrings(value: YamlValue, where: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((part) => typeof part === 'string')) return value as string[];
  throw new Error(`${where}: expected text or a list of texts`);
}

function recordOf(name: string, type: string, value: YamlValue, where: string): ZoneRecord {
  const base = { name, ttl: TTL };
  switch (type) {
    case 'A':
    case 'AAAA':
    case 'PTR':
    case 'CNAME':
      if (typeof value !== 'string') throw new Error(`${where}: expected text`);
      return { ...base, type, data: value };
    case 'MX': {
      const [preference, exchange] = Array.isArray(value) ? value : [];
      if (typeof preference !== 'string' || typeof exchange !== 'string') {
        throw new Error(`${where}: expected [preference, exchange]`);
      }
      return { ...base, type: 'MX', data: { preference: Number(preference), exchange } };
    }
    case 'TXT':
      return { ...base, type: 'TXT', data: asStrings(value, where) };
    default:
      throw new Error(`${where}: record type ${type} is not part of the suite's conventions`);
  }
}

/** Converts one document's `zonedata` map into records and timeout rules. */
export function suiteWorld(zonedata: YamlValue): SuiteWorld {
  if (zonedata === null || typeof zonedata !== 'object' || Array.isArray(zonedata)) {
    throw new Error('zonedata must be a mapping');
  }
  const world: SuiteWorld = { records: [], timeoutExcept: new Map(), timeoutTypes: new Set() };
  for (const [owner, entries] of Object.entries(zonedata)) {
    const name = normalizeName(owner);
    if (!Array.isArray(entries)) throw new Error(`zonedata ${owner}: expected a list`);
    const listed = new Set<string>();
    const spfTexts: YamlValue[] = [];
    let hasTxt = false;
    for (const entry of entries) {
      if (entry === 'TIMEOUT') {
        if (!world.timeoutExcept.has(name)) world.timeoutExcept.set(name, new Set(listed));
        continue;
      }
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new Error(`zonedata ${owner}: unexpected entry ${JSON.stringify(entry)}`);
      }
      for (const [type, value] of Object.entries(entry)) {
        // "NONE" serves nothing, so it does not count as data listed before a TIMEOUT.
        if (value !== 'NONE') listed.add(type);
        if (value === 'TIMEOUT') world.timeoutTypes.add(`${type} ${name}`);
        else if (type === 'SPF') spfTexts.push(value);
        else if (type === 'TXT' && value === 'NONE') hasTxt = true;
        else {
          if (type === 'TXT') hasTxt = true;
          world.records.push(recordOf(name, type, value, `zonedata ${owner}`));
        }
      }
    }
    if (!hasTxt) {
      for (const text of spfTexts) world.records.push(recordOf(name, 'TXT', text, `zonedata ${owner}`));
    }
  }
  return world;
}

function timesOut(world: SuiteWorld, name: string, type: string): boolean {
  const answered = world.timeoutExcept.get(name);
  return (answered !== undefined && !answered.has(type)) || world.timeoutTypes.has(`${type} ${name}`);
}

function questionOf(message: Buffer): { name: string; type: string } | undefined {
  try {
    const question = decode(message).questions?.[0];
    return question === undefined ? undefined : { name: normalizeName(question.name), type: question.type };
  } catch {
    return undefined;
  }
}

/** The world's server on 127.0.0.1 (UDP) and a resolver that asks only it; closed when the test ends. */
export async function startSuiteDns(t: TestContext, world: SuiteWorld): Promise<CachingResolver> {
  const zones = new SuiteZones();
  const origins = new Set(world.records.map((record) => record.name.split('.').pop() ?? ''));
  zones.replaceAll([...origins].map((origin) => ({ origin, records: [] })));
  for (const record of world.records) zones.add(record);
  const socket: Socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    const question = questionOf(message);
    if (question !== undefined && timesOut(world, question.name, question.type)) return;
    const { response } = answerQuery(message, zones, 'udp');
    if (response !== undefined) socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  // Timeouts are the point of some cases, so they are kept short; loopback answers take microseconds.
  return createResolver({ servers: [`127.0.0.1:${socket.address().port}`], timeoutMs: 250, tries: 2 });
}

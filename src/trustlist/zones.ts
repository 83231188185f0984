import { isSubdomain, normalizeName } from '../dns/names.js';
import { type ZoneAnswer, type ZoneRecord, ZoneSet } from '../dns/zone.js';
import { formatAddress, ipv4Text } from './network.js';
import { NOT_LISTED } from './ranges.js';
import { type ServedList, zoneSoa } from './served.js';

/**
 * The general (dns-packet) path of a trust list: a ZoneSet whose apex holds the SOA and NS records
 * and whose address names are answered from the served list. The DNS server's answerQuery runs on
 * it for TCP and for every UDP query the hot path passes on (EDNS versions, other types, the apex),
 * and the hot path is tested against it.
 */

/** What the labels left of the zone name. */
type AddressName =
  | { kind: 'ipv4'; value: number }
  | { kind: 'ipv6'; bytes: Uint8Array }
  | { kind: 'partial' }
  | { kind: 'other' };

const OCTET = /^(?:0|[1-9]\d{0,2})$/;
const NIBBLE = /^[0-9a-f]$/;

/** Reads `d.c.b.a` (4 octets) or 32 nibbles, least significant first; fewer labels are partial names. */
function addressName(labels: readonly string[]): AddressName {
  if (
    labels.length >= 1 &&
    labels.length <= 4 &&
    labels.every((label) => OCTET.test(label) && Number(label) <= 255)
  ) {
    if (labels.length < 4) return { kind: 'partial' };
    const [d, c, b, a] = labels.map(Number) as [number, number, number, number];
    return { kind: 'ipv4', value: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0 };
  }
  if (labels.length >= 1 && labels.length <= 32 && labels.every((label) => NIBBLE.test(label))) {
    if (labels.length < 32) return { kind: 'partial' };
    const bytes = new Uint8Array(16);
    labels.forEach((label, i) => {
      const byteIndex = 15 - (i >> 1);
      bytes[byteIndex] = (bytes[byteIndex] ?? 0) | (Number.parseInt(label, 16) << (i & 1 ? 4 : 0));
    });
    return { kind: 'ipv6', bytes };
  }
  return { kind: 'other' };
}

/** The zone data of a trust list, answering address names from the current ServedList. */
export class TrustListZones extends ZoneSet {
  private list: ServedList;
  private soa: ZoneRecord;

  constructor(list: ServedList) {
    super();
    this.list = list;
    const { settings } = list;
    this.addZone(list.zone, { ...zoneSoa(settings, list.serial), ttl: settings.negativeTtl });
    for (const server of settings.nameservers) {
      this.add({ name: list.zone, type: 'NS', ttl: settings.ttl, data: server });
    }
    this.soa = this.soaRecord();
  }

  /** Serves a new version of the list (same zone); the SOA serial follows it. */
  update(list: ServedList): void {
    this.list = list;
    this.replace(list.zone, 'SOA', [
      {
        name: list.zone,
        type: 'SOA',
        ttl: list.settings.negativeTtl,
        data: zoneSoa(list.settings, list.serial),
      },
    ]);
    this.soa = this.soaRecord();
  }

  private soaRecord(): ZoneRecord {
    const [soa] = super.lookup(this.list.zone, 'SOA').answers;
    if (!soa) throw new Error('trust list zone without SOA');
    return soa;
  }

  override lookup(name: string, type: string): ZoneAnswer {
    const owner = normalizeName(name);
    const zone = this.list.zone;
    if (owner === zone || !isSubdomain(owner, zone)) return super.lookup(name, type);
    const parsed = addressName(owner.slice(0, owner.length - zone.length - 1).split('.'));
    if (parsed.kind === 'other') return super.lookup(name, type);
    const nodata: ZoneAnswer = { rcode: 'NOERROR', answers: [], authority: [this.soa] };
    // A partial address may have listed names below it: NODATA, never NXDOMAIN (RFC 8020).
    if (parsed.kind === 'partial') return nodata;
    const slotNumber =
      parsed.kind === 'ipv4' ? this.list.lookupIpv4(parsed.value) : this.list.lookupIpv6(parsed.bytes);
    const slot = slotNumber === NOT_LISTED ? undefined : this.list.slots[slotNumber];
    if (!slot) return { rcode: 'NXDOMAIN', answers: [], authority: [this.soa] };
    const address =
      parsed.kind === 'ipv4' ? ipv4Text(parsed.value) : formatAddress({ family: 6, bytes: parsed.bytes });
    const ttl = this.list.settings.ttl;
    const answers: ZoneRecord[] = [];
    const qtype = type.toUpperCase();
    if ((qtype === 'A' || qtype === 'ANY') && slot.listed) {
      answers.push({ name: owner, type: 'A', ttl, data: Array.from(slot.address).join('.') });
    }
    if (qtype === 'TXT' || qtype === 'ANY') {
      const text = this.list.textFor(slot, address);
      if (text !== '') answers.push({ name: owner, type: 'TXT', ttl, data: [text] });
    }
    return answers.length > 0 ? { rcode: 'NOERROR', answers, authority: [] } : nodata;
  }
}

import { normalizeName } from '../dns/names.js';
import type { SoaData } from '../dns/zone.js';
import { type Network, parseNetwork } from './network.js';
import { type Block, flattenIpv4, type Ipv4Ranges, Ipv6Trie, lookupIpv4, NOT_LISTED } from './ranges.js';
import type { ServedEntry } from './store-entries.js';
import { expandText, namesAddress, plainText } from './text.js';

/**
 * One immutable picture of what the list answers, built from the store after each change and
 * swapped in whole: the address index, and per answer slot the A record and TXT bytes, encoded
 * once so the DNS hot path only copies them.
 */

/** How the zone answers, beside the entries. */
export interface ZoneSettings {
  zone: string;
  /** TTL of A and TXT answers (default 300 s: a delisting reaches caches within five minutes). */
  ttl: number;
  /** TTL of negative answers and of the SOA that carries it (default 60 s). */
  negativeTtl: number;
  /** NS names of the zone ([] serves none). */
  nameservers: string[];
  /** SOA RNAME, a mailbox in DNS form (default hostmaster.<zone>). */
  hostmaster: string;
}

/** What one slot answers. */
export interface Slot {
  listed: boolean;
  /** The A record's address: 127.0.<category>.<trust> (127.0.0.2 for the test point). */
  address: Uint8Array;
  /** TXT text when it does not depend on the address ('' none); undefined when it must be expanded. */
  fixedText: string | undefined;
  /** The template when the text names the address. */
  template: string;
}

/** RFC 5782 section 5: 127.0.0.2 (and ::ffff:7f00:2) listed, 127.0.0.1 (and ::ffff:7f00:1) not. */
export const TEST_POINTS = {
  listed: ['127.0.0.2/32', '::ffff:7f00:2/128'],
  unlisted: ['127.0.0.1/32', '::ffff:7f00:1/128'],
} as const;
export const TEST_POINT_TEXT = 'RFC 5782 test point';

function must(text: string): Network {
  const parsed = parseNetwork(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.network;
}

/** The zone's SOA (both DNS paths serve this one); its minimum is the negative TTL (RFC 2308). */
export function zoneSoa(settings: ZoneSettings, serial: number): SoaData {
  const zone = normalizeName(settings.zone);
  return {
    mname: normalizeName(settings.nameservers[0] ?? `ns.${zone}`),
    rname: normalizeName(settings.hostmaster),
    serial,
    refresh: 3600,
    retry: 600,
    expire: 604_800,
    minimum: settings.negativeTtl,
  };
}

/** The text a delisted entry serves: when and why. */
function delistedText(entry: ServedEntry): string {
  return plainText(`Delisted ${entry.updatedAt.slice(0, 10)}: ${entry.reason}`);
}

function slotOf(entry: ServedEntry): Slot {
  if (entry.status === 'delisted') {
    return { listed: false, address: new Uint8Array(4), fixedText: delistedText(entry), template: '' };
  }
  const address = Uint8Array.of(127, 0, entry.category, entry.trust);
  return namesAddress(entry.text)
    ? { listed: true, address, fixedText: undefined, template: entry.text }
    : { listed: true, address, fixedText: expandText(entry.text, ''), template: '' };
}

/** Entries that answer alike share a slot: what is encoded per version grows with the answers, not the entries. */
function slotKey(entry: ServedEntry): string {
  return entry.status === 'delisted'
    ? `d ${entry.updatedAt.slice(0, 10)} ${entry.reason}`
    : `l ${entry.category} ${entry.trust} ${entry.text}`;
}

/** The served picture of a list. */
export class ServedList {
  readonly slots: Slot[];
  private readonly ipv4: Ipv4Ranges;
  private readonly ipv6: Ipv6Trie;

  constructor(
    readonly settings: ZoneSettings,
    readonly serial: number,
    entries: readonly ServedEntry[],
  ) {
    this.slots = [];
    const slotNumbers = new Map<string, number>();
    const blocks: Block[] = [];
    for (const entry of entries) {
      if (entry.status === 'excluded') {
        blocks.push({ network: entry.block, value: NOT_LISTED });
        continue;
      }
      const key = slotKey(entry);
      let slot = slotNumbers.get(key);
      if (slot === undefined) {
        slot = this.slots.length;
        slotNumbers.set(key, slot);
        this.slots.push(slotOf(entry));
      }
      blocks.push({ network: entry.block, value: slot });
    }
    const testPoint: Slot = {
      listed: true,
      address: Uint8Array.of(127, 0, 0, 2),
      fixedText: TEST_POINT_TEXT,
      template: '',
    };
    for (const text of TEST_POINTS.listed) blocks.push({ network: must(text), value: this.slots.length });
    this.slots.push(testPoint);
    for (const text of TEST_POINTS.unlisted) blocks.push({ network: must(text), value: NOT_LISTED });
    this.ipv4 = flattenIpv4(blocks);
    this.ipv6 = Ipv6Trie.from(blocks);
  }

  /** The zone in normal form. */
  get zone(): string {
    return normalizeName(this.settings.zone);
  }

  /** The slot number for an IPv4 address (unsigned 32-bit), or NOT_LISTED. */
  lookupIpv4(address: number): number {
    return lookupIpv4(this.ipv4, address);
  }

  /** The slot number for a 16-byte IPv6 address, or NOT_LISTED. */
  lookupIpv6(bytes: Uint8Array): number {
    return this.ipv6.lookup(bytes);
  }

  /** The TXT a slot serves for an address ('' for none). */
  textFor(slot: Slot, address: string): string {
    return slot.fixedText ?? expandText(slot.template, address);
  }
}

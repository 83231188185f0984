import { isIPv4, isIPv6 } from 'node:net';
import { normalizeName } from '../dns/names.js';
import { formatRecord } from '../dns/presentation.js';
import { splitCharacterStrings, type ZoneRecord } from '../dns/records.js';
import { type DkimSigningKey, dkimRecordName, dkimTxtRecord } from './keys.js';

/** What an operator publishes, in groups with a heading; later mechanisms add their own groups. */
export interface DnsRecordSection {
  title: string;
  /** Lines shown as zone-file comments under the title (advice, records we cannot fill in). */
  notes: string[];
  records: ZoneRecord[];
}

/** The facts the records are made from. */
export interface DnsRecordsInput {
  /** Our host name: the MX target and the name the host's addresses belong to. */
  hostname: string;
  /** The local mail domains. */
  domains: readonly string[];
  /** The host's public addresses, when the operator told us; they go into A/AAAA and SPF. */
  addresses?: readonly string[];
  /** DKIM keys per domain (normal form, as loadDkimKeys returns them). */
  dkimKeys: ReadonlyMap<
    string,
    readonly Pick<DkimSigningKey, 'selector' | 'algorithm' | 'publicKeyDnsValue'>[]
  >;
  /** TTL of every record; 3600 when absent. */
  ttl?: number;
}

const DEFAULT_TTL = 3600;
const MX_PREFERENCE = 10;

function txt(name: string, text: string, ttl: number): ZoneRecord {
  return { name, type: 'TXT', ttl, data: splitCharacterStrings(text) };
}

/** The SPF policy of a mail domain: the host's own addresses when known, and whatever its MX names. */
function spfPolicy(addresses: readonly string[]): string {
  const mechanisms = addresses.map((address) => (isIPv6(address) ? `ip6:${address}` : `ip4:${address}`));
  return ['v=spf1', ...mechanisms, 'mx', '-all'].join(' ');
}

function hostSection(input: DnsRecordsInput, ttl: number): DnsRecordSection {
  const host = normalizeName(input.hostname);
  const addresses = input.addresses ?? [];
  const records: ZoneRecord[] = addresses.map((address) =>
    isIPv6(address)
      ? { name: host, type: 'AAAA', ttl, data: address }
      : { name: host, type: 'A', ttl, data: address },
  );
  const notes: string[] = [];
  if (!host.includes('.')) notes.push(`"${host}" is not a public name: set hostname in the config`);
  if (addresses.length === 0) {
    notes.push(`${host}. ${ttl} IN A <this host's public IPv4 address>  (and AAAA for IPv6)`);
  }
  for (const address of addresses) {
    notes.push(`reverse DNS: ${address} PTR ${host}. (set by whoever runs the address block)`);
  }
  if (!input.domains.map(normalizeName).includes(host)) {
    // SPF for the HELO identity (RFC 7208 section 2.3): only this host says HELO with its name.
    records.push(txt(host, 'v=spf1 a -all', ttl));
  }
  return { title: `mail host ${host}`, notes, records };
}

function domainSection(domain: string, input: DnsRecordsInput, ttl: number): DnsRecordSection {
  const host = normalizeName(input.hostname);
  const records: ZoneRecord[] = [
    { name: domain, type: 'MX', ttl, data: { preference: MX_PREFERENCE, exchange: host } },
    txt(domain, spfPolicy(input.addresses ?? []), ttl),
    txt(`_dmarc.${domain}`, `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`, ttl),
  ];
  const keys = input.dkimKeys.get(domain) ?? [];
  for (const key of keys) records.push(txt(dkimRecordName(key.selector, domain), dkimTxtRecord(key), ttl));
  const notes = keys.length === 0 ? [`no DKIM key yet: run "outpost dkim keygen ${domain}"`] : [];
  return { title: `mail domain ${domain}`, notes, records };
}

/** The records for the host and each domain: A/AAAA, MX, SPF, DKIM, DMARC. */
export function dnsRecordSections(input: DnsRecordsInput): DnsRecordSection[] {
  for (const address of input.addresses ?? []) {
    if (!isIPv4(address) && !isIPv6(address)) throw new Error(`"${address}" is not an IP address`);
  }
  const ttl = input.ttl ?? DEFAULT_TTL;
  const domains = [...new Set(input.domains.map(normalizeName))];
  return [hostSection(input, ttl), ...domains.map((domain) => domainSection(domain, input, ttl))];
}

/** Sections as zone-file text: a comment per title and note, one record per line. */
export function formatDnsRecordSections(sections: readonly DnsRecordSection[]): string {
  const blocks = sections.map((section) =>
    [
      `; ${section.title}`,
      ...section.notes.map((note) => `;   ${note}`),
      ...section.records.map(formatRecord),
    ].join('\n'),
  );
  return `${blocks.join('\n\n')}\n`;
}

/** Every record an operator must publish for the host and its domains, in zone-file syntax. */
export function renderDnsRecords(input: DnsRecordsInput): string {
  return formatDnsRecordSections(dnsRecordSections(input));
}

import { isIPv4, isIPv6 } from 'node:net';
import { mtamarkName } from '../checks/mtamark/index.js';
import { normalizeName, reverseName, reverseNetworkName24, reverseNetworkName64 } from '../dns/names.js';
import { formatRecord } from '../dns/presentation.js';
import { splitCharacterStrings, type ZoneRecord } from '../dns/records.js';
import { type DkimSigningKey, dkimRecordName, dkimTxtRecord, hostCandidates } from './keys.js';

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
  /** The host's MX listeners (see mxHostsFromListeners); one MX, the host name, when absent or empty. */
  mxHosts?: readonly MxHost[];
  /** Trust lists our trusted MX consults: named in the advice on getting the host listed. */
  trustLists?: readonly string[];
  /** TTL of every record; 3600 when absent. */
  ttl?: number;
}

/** One MX of ours: the exchange name other servers look up, and the listener behind it. */
export interface MxHost {
  name: string;
  /** The trusted MX has the lower preference, so listed senders try it first and others fall through. */
  preference: number;
  listener: string;
  profile: 'mx' | 'mx-trusted' | 'mx-untrusted';
  /** The listener's own public address; undefined when it listens on all addresses (or loopback). */
  address?: string;
  port: number;
}

/** What mxHostsFromListeners reads of a configured listener (ListenerConfig fits). */
export interface ListenerMxFacts {
  name: string;
  profile: string;
  /** "host:port" or "[v6]:port". */
  address: string;
  /** The MX name of this listener; proposed config key listeners[].mx_name. */
  mx_name?: string;
}

const DEFAULT_TTL = 3600;
const MX_PREFERENCE = 10;
const UNTRUSTED_MX_PREFERENCE = 20;
const SMTP_PORT = 25;

const MX_PROFILES = new Set(['mx', 'mx-trusted', 'mx-untrusted']);

function isMxProfile(profile: string): profile is MxHost['profile'] {
  return MX_PROFILES.has(profile);
}

/** A bind address that names one public address (not a wildcard, not loopback, not a name). */
function publicBindAddress(host: string): string | undefined {
  if (!isIPv4(host) && !isIPv6(host)) return undefined;
  if (host === '0.0.0.0' || host === '::' || host.startsWith('127.') || host === '::1') return undefined;
  return host;
}

/**
 * The MX hosts of the receiving listeners: `mx_name` when set, else the host name for a single
 * MX listener and `<listener name>.<host name>` when there are several (a trusted and an untrusted
 * MX must be different names on different addresses: senders always connect to port 25).
 */
export function mxHostsFromListeners(hostname: string, listeners: readonly ListenerMxFacts[]): MxHost[] {
  const receiving = listeners.flatMap((listener) => {
    const { profile } = listener;
    return isMxProfile(profile) ? [{ ...listener, profile }] : [];
  });
  const host = normalizeName(hostname);
  return receiving.map((listener) => {
    const at = listener.address.lastIndexOf(':');
    const bindHost = listener.address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    const address = publicBindAddress(bindHost);
    const name =
      listener.mx_name !== undefined
        ? normalizeName(listener.mx_name)
        : receiving.length === 1
          ? host
          : `${listener.name}.${host}`;
    return {
      name,
      preference: listener.profile === 'mx-untrusted' ? UNTRUSTED_MX_PREFERENCE : MX_PREFERENCE,
      listener: listener.name,
      profile: listener.profile,
      port: Number(listener.address.slice(at + 1)),
      ...(address === undefined ? {} : { address }),
    };
  });
}

/** One MX record per exchange name, at the lowest preference any of its listeners has. */
function exchanges(input: DnsRecordsInput): { name: string; preference: number }[] {
  const hosts = input.mxHosts ?? [];
  if (hosts.length === 0) return [{ name: normalizeName(input.hostname), preference: MX_PREFERENCE }];
  const byName = new Map<string, number>();
  for (const host of hosts)
    byName.set(host.name, Math.min(byName.get(host.name) ?? host.preference, host.preference));
  return [...byName]
    .map(([name, preference]) => ({ name, preference }))
    .sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name));
}

function addressRecord(name: string, address: string, ttl: number): ZoneRecord {
  return isIPv6(address)
    ? { name, type: 'AAAA', ttl, data: address }
    : { name, type: 'A', ttl, data: address };
}

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
  const records: ZoneRecord[] = addresses.map((address) => addressRecord(host, address, ttl));
  const notes: string[] = [];
  if (!host.includes('.')) notes.push(`"${host}" is not a public name: set hostname in the config`);
  if (addresses.length === 0) {
    notes.push(`${host}. ${ttl} IN A <this host's public IPv4 address>  (and AAAA for IPv6)`);
  }
  if (!input.domains.map(normalizeName).includes(host)) {
    // SPF for the HELO identity (RFC 7208 section 2.3): only this host says HELO with its name.
    records.push(txt(host, 'v=spf1 a -all', ttl));
  }
  return { title: `mail host ${host}`, notes, records };
}

function domainSection(domain: string, input: DnsRecordsInput, ttl: number): DnsRecordSection {
  const records: ZoneRecord[] = [
    ...exchanges(input).map(
      (mx): ZoneRecord => ({
        name: domain,
        type: 'MX',
        ttl,
        data: { preference: mx.preference, exchange: mx.name },
      }),
    ),
    txt(domain, spfPolicy(input.addresses ?? []), ttl),
    txt(`_dmarc.${domain}`, `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`, ttl),
  ];
  const keys = input.dkimKeys.get(domain) ?? [];
  for (const key of keys) records.push(txt(dkimRecordName(key.selector, domain), dkimTxtRecord(key), ttl));
  const notes = keys.length === 0 ? [`no DKIM key yet: run "outpost dkim keygen ${domain}"`] : [];
  return { title: `mail domain ${domain}`, notes, records };
}

/** The MX hosts that are not the host itself: their addresses, and what keeps the two tiers apart. */
function mxHostsSection(input: DnsRecordsInput, ttl: number): DnsRecordSection | undefined {
  const host = normalizeName(input.hostname);
  const hosts = input.mxHosts ?? [];
  if (hosts.length === 0) return undefined;
  const records: ZoneRecord[] = [];
  const notes: string[] = [];
  for (const mx of hosts) {
    notes.push(`${mx.name}: listener "${mx.listener}" (${mx.profile}), MX preference ${mx.preference}`);
    if (mx.port !== SMTP_PORT) {
      notes.push(
        `${mx.name}: listener "${mx.listener}" is on port ${mx.port}; other servers connect to port 25`,
      );
    }
    if (mx.address !== undefined) records.push(addressRecord(mx.name, mx.address, ttl));
    else if (mx.name !== host)
      notes.push(`${mx.name}. ${ttl} IN A <the address listener "${mx.listener}" receives on>`);
  }
  const tiers = new Set(hosts.map((mx) => mx.profile));
  if (tiers.has('mx-trusted') && tiers.has('mx-untrusted')) {
    const names = new Set(hosts.map((mx) => mx.name));
    const addressed = hosts.filter((mx) => mx.address !== undefined).map((mx) => mx.address);
    if (names.size < 2 || new Set(addressed).size < addressed.length) {
      notes.push(
        'the trusted and the untrusted MX need different names on different addresses (set listeners[].mx_name)',
      );
    }
  }
  return { title: 'MX hosts (trusted MX first)', notes, records };
}

/**
 * The host's server signature, which a trusted MX asks for: a DKIM key with d= the host name or the
 * nearest parent that has keys (the same choice outbound signing makes).
 */
function serverSignatureSection(input: DnsRecordsInput, ttl: number): DnsRecordSection {
  const host = normalizeName(input.hostname);
  const signer = hostCandidates(host).find((name) => input.dkimKeys.has(name)) ?? host;
  const title = `server signature of ${host} (DKIM d=${signer})`;
  if (input.domains.map(normalizeName).includes(signer)) {
    return {
      title,
      notes: [`the DKIM keys of the mail domain ${signer} below sign as the server too`],
      records: [],
    };
  }
  const keys = input.dkimKeys.get(signer) ?? [];
  const records = keys.map((key) => txt(dkimRecordName(key.selector, signer), dkimTxtRecord(key), ttl));
  const notes = keys.length === 0 ? [`no server key yet: run "outpost dkim keygen ${host}"`] : [];
  return { title, notes, records };
}

/**
 * What the owner of a sending address publishes (often the ISP, in the reverse zone): PTR for
 * FCrDNS, Reverse MX at the /24 (or /64) name, the MTAMark "1"; and what a trust list publishes.
 */
function addressBlockSection(address: string, input: DnsRecordsInput, ttl: number): DnsRecordSection {
  const host = normalizeName(input.hostname);
  const network = isIPv4(address) ? reverseNetworkName24(address) : reverseNetworkName64(address);
  const listed = reverseName(address).replace(/\.(in-addr|ip6)\.arpa$/, '');
  const lists = input.trustLists ?? [];
  const notes = [
    'published by whoever runs the address block (usually in their reverse zone):',
    `Reverse MX: every sending host of ${network} is one MX there`,
    ...(lists.length === 0
      ? [
          `trust list: ask a list operator to list ${address}; the list publishes ${listed}.<list zone> A 127.0.<category>.<trust>`,
        ]
      : lists.map(
          (zone) =>
            `trust list: ask ${zone} to list ${address}; it publishes ${listed}.${zone}. A 127.0.<category>.<trust>`,
        )),
  ];
  return {
    title: `sending address ${address}`,
    notes,
    records: [
      { name: reverseName(address), type: 'PTR', ttl, data: host },
      { name: network, type: 'MX', ttl, data: { preference: MX_PREFERENCE, exchange: host } },
      txt(mtamarkName(address), '1', ttl),
    ],
  };
}

/**
 * The records for the host and each domain: A/AAAA, MX (trusted before untrusted), SPF, DKIM,
 * DMARC, the server-signature key, and per sending address PTR, Reverse MX and MTAMark.
 */
export function dnsRecordSections(input: DnsRecordsInput): DnsRecordSection[] {
  for (const address of input.addresses ?? []) {
    if (!isIPv4(address) && !isIPv6(address)) throw new Error(`"${address}" is not an IP address`);
  }
  const ttl = input.ttl ?? DEFAULT_TTL;
  const domains = [...new Set(input.domains.map(normalizeName))];
  const mxHosts = mxHostsSection(input, ttl);
  return [
    hostSection(input, ttl),
    ...(mxHosts === undefined ? [] : [mxHosts]),
    serverSignatureSection(input, ttl),
    ...domains.map((domain) => domainSection(domain, input, ttl)),
    ...(input.addresses ?? []).map((address) => addressBlockSection(address, input, ttl)),
  ];
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

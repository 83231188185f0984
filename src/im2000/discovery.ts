// Finding a domain's post office and signing keys in DNS.
import type { KeyObject } from 'node:crypto';
import { normalizeName } from '../dns/names.js';
import type { Resolver } from '../dns/types.js';
import { recordsOrEmpty } from '../pipeline/dns-view.js';
import { parseKeyRecord } from './keys.js';

/** One published post office of a domain: the SRV target and port. */
export interface PostOfficeAddress {
  host: string;
  port: number;
}

export function srvName(domain: string): string {
  return `_im2000._tcp.${normalizeName(domain)}`;
}

export function keyName(domain: string): string {
  return `_im2000key.${normalizeName(domain)}`;
}

/**
 * The post offices of a domain, best first (lowest priority, then highest weight); [] when the
 * domain publishes none. DNS failures other than "no such records" propagate: they are temporary.
 */
export async function findPostOffices(dns: Resolver, domain: string): Promise<PostOfficeAddress[]> {
  const records = await recordsOrEmpty(dns.resolveSrv(srvName(domain)));
  return records
    .filter((record) => normalizeName(record.name) !== '' && record.port > 0)
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map((record) => ({ host: normalizeName(record.name), port: record.port }));
}

/** The valid signing keys a domain publishes ([] when none). */
export async function domainKeys(dns: Resolver, domain: string): Promise<KeyObject[]> {
  const records = await recordsOrEmpty(dns.resolveTxt(keyName(domain)));
  return records.map((chunks) => parseKeyRecord(chunks.join(''))).filter((key) => key !== undefined);
}

/** The first IPv4 (else IPv6) address of a host; undefined when it has none. */
export async function addressOf(dns: Resolver, host: string): Promise<string | undefined> {
  const v4 = await recordsOrEmpty(dns.resolve4(host));
  if (v4.length > 0) return v4[0];
  return (await recordsOrEmpty(dns.resolve6(host)))[0];
}

/**
 * The gateway's routing question: does the domain publish an IM2000 post office? SMTP-accepted mail
 * for such domains can go out as IM2000 instead.
 */
export function createIm2000Route(dns: Resolver): (domain: string) => Promise<boolean> {
  return async (domain) => (await findPostOffices(dns, domain)).length > 0;
}

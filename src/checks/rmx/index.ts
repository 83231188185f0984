import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { domainOf } from '../../core/address.js';
import { nameProblem, normalizeName } from '../../dns/names.js';
import type { Resolver } from '../../dns/types.js';
import type { Check, CheckContext, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { addressesLike, firstHostWithAddress, recordsOrEmpty } from '../../pipeline/dns-view.js';
import { inCidr, plainIp, sameIp } from '../../pipeline/ip.js';
import { parseRmx, type RmxTerm } from './record.js';

/** Exchanges looked up for one `mx` term (as SPF's limit). */
const MAX_EXCHANGES = 10;

/** The rmx check has no options. */
export const rmxOptionsSchema = z.strictObject({});

export type RmxOptions = z.output<typeof rmxOptionsSchema>;

interface Identity {
  domain: string;
  props: Record<string, string>;
}

/** A domain as the DNS wants it (IDNA A-labels), or undefined when it is not a usable name. */
function dnsDomain(text: string): string | undefined {
  const ascii = domainToASCII(text);
  return ascii === '' || nameProblem(ascii) !== undefined ? undefined : normalizeName(ascii);
}

/** The MAIL FROM domain, or the HELO name for the null sender (an address literal has no RMX). */
function identityOf(ctx: CheckContext<RmxOptions>): Identity | undefined {
  const from = ctx.mailFrom ?? ctx.transaction?.from ?? '';
  if (from !== '') {
    const domain = dnsDomain(domainOf(from));
    // The domain, as the spf check reports it: RFC 8601 allows both, and one form is easier to read.
    return domain === undefined ? undefined : { domain, props: { 'smtp.mailfrom': domainOf(from) } };
  }
  const helo = ctx.helo ?? ctx.session.helo;
  if (helo === undefined || helo.startsWith('[')) return undefined;
  const domain = dnsDomain(helo);
  return domain === undefined ? undefined : { domain, props: { 'smtp.helo': helo } };
}

async function termMatches(dns: Resolver, term: RmxTerm, domain: string, ip: string): Promise<boolean> {
  switch (term.kind) {
    case 'ip':
      return inCidr(ip, term.block);
    case 'a':
      return (await addressesLike(dns, term.host ?? domain, ip)).some((address) => sameIp(address, ip));
    case 'mx': {
      const records = await recordsOrEmpty(dns.resolveMx(term.host ?? domain));
      const exchanges = [...records]
        .sort((a, b) => a.priority - b.priority)
        .map((record) => normalizeName(record.exchange))
        .filter((exchange) => exchange !== '')
        .slice(0, MAX_EXCHANGES);
      return (await firstHostWithAddress(dns, exchanges, ip)) !== undefined;
    }
    case 'all':
      return true;
  }
}

/** Walks the terms in order: the first match decides; a record without `all` ends neutral. */
async function evaluate(
  dns: Resolver,
  terms: readonly RmxTerm[],
  domain: string,
  ip: string,
): Promise<RmxTerm | undefined> {
  for (const term of terms) {
    if (await termMatches(dns, term, domain, ip)) return term;
  }
  return undefined;
}

/** RMX: does the sender's domain list the client among the hosts that may send its mail? */
export const rmx: Check<RmxOptions> = {
  name: 'rmx',
  stage: 'mail',
  async run(ctx) {
    const identity = identityOf(ctx);
    if (identity === undefined) return { result: 'none' };
    const { domain, props } = identity;
    const name = `_rmx.${domain}`;
    const records = (await recordsOrEmpty(ctx.dns.resolveTxt(name))).map((strings) => strings.join(''));
    if (records.length === 0) return { result: 'none', props };
    const [record] = records;
    if (records.length > 1 || record === undefined) {
      return { result: 'permerror', reason: `More than one RMX record at ${name}`, props };
    }
    const parsed = parseRmx(record);
    if (!parsed.ok)
      return { result: 'permerror', reason: `Bad RMX record at ${name}: ${parsed.error}`, props };
    const ip = plainIp(ctx.client.ip);
    const decisive = await evaluate(ctx.dns, parsed.terms, domain, ip);
    return verdict(decisive, ip, domain, props);
  },
};

function verdict(
  decisive: RmxTerm | undefined,
  ip: string,
  domain: string,
  props: Record<string, string>,
): CheckResult {
  if (decisive === undefined) return { result: 'neutral', props };
  if (decisive.kind !== 'all') return { result: 'pass', props };
  if (decisive.verdict === 'neutral') return { result: 'neutral', props };
  return { result: 'fail', reason: `Your IP [${ip}] may not send mail for ${domain} (RMX)`, props };
}

/** Registration: a host the domain does not list is refused, an unanswerable lookup deferred. */
export const rmxRegistration: CheckRegistration<RmxOptions> = {
  check: rmx,
  optionsSchema: rmxOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

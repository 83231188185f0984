import { z } from 'zod';
import { describeError } from '../../core/errors.js';
import type { Resolver } from '../../dns/types.js';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { plainIp } from '../../pipeline/ip.js';
import { dnsxlName, queryDnsxl, type SelftestReport, selftestDnsxl } from '../dnsbl/dnsxl.js';
import { decodeTrustAnswer, describeListing, isTestPointListed } from './answer.js';

/** policy.txt longer than this is cut: it is human text for a header, not a document. */
const MAX_POLICY_TXT = 200;

// A bare string is shorthand for { zone = "..." }.
const listSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { zone: value } : value),
  z.strictObject({
    zone: z.string().min(1),
    weight: z.number().positive().default(1),
    /** The lowest trust (0 none .. 3 high) that counts as a listing. */
    min_trust: z.number().int().min(0).max(3).default(0),
  }),
);

/** Options of the rttl check: `lists = ["trust.example", { zone = "t.example", weight = 2, min_trust = 2 }]`. */
export const rttlOptionsSchema = z.strictObject({
  lists: z.array(listSchema).min(1),
  /** The summed weight of trusting lists at which the result is pass. */
  threshold: z.number().positive().default(1),
});

export type RttlOptions = z.output<typeof rttlOptionsSchema>;
type TrustList = RttlOptions['lists'][number];

type ListReport =
  | { kind: 'trusted'; list: TrustList; address: string; category: number; trust: number; txt?: string }
  | { kind: 'untrusted'; list: TrustList; why: string }
  | { kind: 'error'; list: TrustList; why: string };

/** The list's TXT at the same name (RFC 5782 2.2): who lists it and why. Optional, so failures are ignored. */
async function humanText(dns: Resolver, name: string): Promise<string | undefined> {
  try {
    const text = (await dns.resolveTxt(name)).map((strings) => strings.join('')).join(' ');
    return text === '' ? undefined : text.slice(0, MAX_POLICY_TXT);
  } catch {
    return undefined;
  }
}

async function askList(dns: Resolver, ip: string, list: TrustList): Promise<ListReport> {
  let addresses: string[];
  try {
    addresses = await queryDnsxl(dns, ip, list.zone);
  } catch (error) {
    return { kind: 'error', list, why: `could not be queried: ${describeError(error)}` };
  }
  if (addresses.length === 0) return { kind: 'untrusted', list, why: 'not listed' };
  const answers = addresses.map(decodeTrustAnswer);
  if (answers.some((answer) => answer.kind === 'blocked')) {
    return { kind: 'error', list, why: 'blocks our queries (127.0.0.255)' };
  }
  const listings = answers.flatMap((answer) => (answer.kind === 'listed' ? [answer] : []));
  const best = listings.reduce<(typeof listings)[number] | undefined>(
    (top, answer) => (top === undefined || answer.trust > top.trust ? answer : top),
    undefined,
  );
  if (best === undefined)
    return { kind: 'untrusted', list, why: `answer ${addresses.join(', ')} is not a trust code` };
  if (best.trust < list.min_trust) {
    return {
      kind: 'untrusted',
      list,
      why: `listed with trust ${best.trust}, below the minimum ${list.min_trust}`,
    };
  }
  const txt = await humanText(dns, dnsxlName(ip, list.zone));
  return { kind: 'trusted', list, address: best.address, category: best.category, trust: best.trust, txt };
}

/** One RFC 8904 `dnswl` entry for one list. */
function entryOf(report: ListReport): CheckResult {
  const zone = { 'dns.zone': report.list.zone };
  if (report.kind === 'error') return { result: 'temperror', props: { ...zone, 'dns.sec': 'na' } };
  if (report.kind === 'untrusted') return { result: 'none', props: { ...zone, 'dns.sec': 'na' } };
  const props: Record<string, string> = { ...zone, 'policy.ip': report.address };
  if (report.txt !== undefined) props['policy.txt'] = report.txt;
  props['dns.sec'] = 'na'; // outpost's resolver does not validate DNSSEC
  return {
    result: 'pass',
    reason: `Listed by ${report.list.zone}: ${describeListing(report.category, report.trust)}`,
    props,
  };
}

const sumWeights = (reports: readonly ListReport[]) =>
  reports.reduce((sum, report) => sum + report.list.weight, 0);

/** Merges the lists' answers: the deciding list's entry first, one further entry per other list. */
function verdict(ip: string, reports: readonly ListReport[], threshold: number): CheckResult {
  const trusted = reports.filter((report) => report.kind === 'trusted');
  const errors = reports.filter((report) => report.kind === 'error');
  const withEntries = (lead: ListReport, result: CheckResult): CheckResult => {
    const more = reports.filter((report) => report !== lead).map(entryOf);
    return more.length === 0 ? result : { ...result, more };
  };
  if (sumWeights(trusted) >= threshold) {
    const best = [...trusted].sort((a, b) => b.trust - a.trust)[0] ?? trusted[0];
    if (best !== undefined) return withEntries(best, entryOf(best));
  }
  const firstError = errors[0];
  // Lists that could not answer might have brought the sum to the threshold: no verdict yet.
  if (firstError !== undefined && sumWeights(trusted) + sumWeights(errors) >= threshold) {
    const reason = `Trust list ${firstError.list.zone} ${firstError.why}`;
    return withEntries(firstError, { ...entryOf(firstError), reason });
  }
  const whys = reports
    .map((report) => `${report.list.zone}: ${report.kind === 'trusted' ? 'listed' : report.why}`)
    .join('; ');
  const none: CheckResult = { result: 'none', reason: `Your IP [${ip}] is not on a trust list (${whys})` };
  const lead = reports[0];
  if (lead === undefined) return none;
  return withEntries(lead, { ...none, props: { 'dns.zone': lead.list.zone, 'dns.sec': 'na' } });
}

/** Real-Time Trust Lists: is the client listed, with enough trust, on enough trust lists? */
export const rttl: Check<RttlOptions> = {
  name: 'rttl',
  stage: 'connect',
  method: 'dnswl',
  async run({ client, dns, options }) {
    const ip = plainIp(client.ip);
    const reports = await Promise.all(options.lists.map((list) => askList(dns, ip, list)));
    return verdict(ip, reports, options.threshold);
  },
};

/** RFC 5782 test points of a trust list: for operators checking a list before relying on it. */
export function selftest(
  dns: Resolver,
  zone: string,
  options: { ipv6?: boolean } = {},
): Promise<SelftestReport> {
  return selftestDnsxl(dns, zone, isTestPointListed, options);
}

/** Registration: a client on no trust list is refused (what the trusted MX is for), errors defer. */
export const rttlRegistration: CheckRegistration<RttlOptions> = {
  check: rttl,
  optionsSchema: rttlOptionsSchema,
  defaults: { none: 'reject', temperror: 'defer' },
};

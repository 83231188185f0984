import { z } from 'zod';
import { describeError } from '../../core/errors.js';
import type { Resolver } from '../../dns/types.js';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { parseIp, plainIp } from '../../pipeline/ip.js';
import { queryDnsxl, type SelftestReport, selftestDnsxl } from './dnsxl.js';

/** An IPv4 answer as a number, for range tests; undefined when not an IPv4 address. */
function ipv4Number(text: string): number | undefined {
  const ip = parseIp(text);
  if (ip?.family !== 4) return undefined;
  return ip.bytes.reduce((value, byte) => value * 256 + byte, 0);
}

/** "127.0.0.2" or "127.0.0.4-127.0.0.7": the return codes of a list that count as a listing. */
const codeRangeSchema = z.string().transform((text, ctx) => {
  const [from = '', to = from] = text.split('-').map((part) => part.trim());
  const low = ipv4Number(from);
  const high = ipv4Number(to);
  if (low === undefined || high === undefined || low > high) {
    ctx.addIssue({ code: 'custom', message: `expected "127.0.0.2" or "127.0.0.4-127.0.0.7", got "${text}"` });
    return z.NEVER;
  }
  return { low, high };
});

// A bare string is shorthand for { zone = "..." }.
const listSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { zone: value } : value),
  z.strictObject({
    zone: z.string().min(1),
    weight: z.number().positive().default(1),
    codes: z.array(codeRangeSchema).min(1).optional(),
  }),
);

/** Options of the dnsbl check: `lists = ["bl.example", { zone = "x.example", weight = 2, codes = [...] }]`. */
export const dnsblOptionsSchema = z.strictObject({
  lists: z.array(listSchema).min(1),
  /** The summed weight of listing lists at which the result is fail. */
  threshold: z.number().positive().default(1),
});

export type DnsblOptions = z.output<typeof dnsblOptionsSchema>;
type DnsblList = DnsblOptions['lists'][number];

type ListAnswer =
  | { kind: 'listed'; list: DnsblList; codes: string[] }
  | { kind: 'clean'; list: DnsblList }
  | { kind: 'error'; list: DnsblList; why: string };

const LOOPBACK_NET = { low: 0x7f000000, high: 0x7fffffff };
// RFC 5782 leaves 127.255.255.0/24 to list errors: Spamhaus uses .252-.255 for "query refused" etc.
const ERROR_CODES = { low: 0x7fffff00, high: 0x7fffffff };

function within(value: number, range: { low: number; high: number }): boolean {
  return value >= range.low && value <= range.high;
}

/** Sorts one list's A records into listed, clean, or a list error (never a listing). */
function classify(list: DnsblList, addresses: readonly string[]): ListAnswer {
  if (addresses.length === 0) return { kind: 'clean', list };
  const values = addresses.map((address) => ({ address, value: ipv4Number(address) ?? -1 }));
  const errorCode = values.find(({ value }) => within(value, ERROR_CODES));
  if (errorCode !== undefined) return { kind: 'error', list, why: `list error code ${errorCode.address}` };
  const outside = values.find(({ value }) => !within(value, LOOPBACK_NET));
  if (outside !== undefined)
    return { kind: 'error', list, why: `answer ${outside.address} outside 127.0.0.0/8` };
  const matching = values.filter(
    ({ value }) => list.codes === undefined || list.codes.some((range) => within(value, range)),
  );
  return matching.length === 0
    ? { kind: 'clean', list }
    : { kind: 'listed', list, codes: matching.map(({ address }) => address) };
}

async function askList(dns: Resolver, ip: string, list: DnsblList): Promise<ListAnswer> {
  try {
    return classify(list, await queryDnsxl(dns, ip, list.zone));
  } catch (error) {
    return { kind: 'error', list, why: describeError(error) };
  }
}

const sumWeights = (answers: readonly ListAnswer[]) =>
  answers.reduce((sum, answer) => sum + answer.list.weight, 0);

/** Merges the answers of all lists into one result. */
function verdict(ip: string, answers: readonly ListAnswer[], threshold: number): CheckResult {
  const listed = answers.filter(
    (answer): answer is Extract<ListAnswer, { kind: 'listed' }> => answer.kind === 'listed',
  );
  const errors = answers.filter(
    (answer): answer is Extract<ListAnswer, { kind: 'error' }> => answer.kind === 'error',
  );
  const hitWeight = sumWeights(listed);
  const listing = listed.map((answer) => `${answer.list.zone} (${answer.codes.join(', ')})`).join(', ');
  const details: Record<string, string> = {};
  if (listed.length > 0) details.listed = listing;
  if (errors.length > 0)
    details.errors = errors.map((error) => `${error.list.zone}: ${error.why}`).join('; ');
  const zones = { 'dns.zone': listed.map((answer) => answer.list.zone).join(' ') };
  if (hitWeight >= threshold) {
    return { result: 'fail', reason: `Your IP [${ip}] is listed by ${listing}`, props: zones, details };
  }
  // Lists that could not answer might have pushed the sum over the threshold: no verdict yet.
  if (hitWeight + sumWeights(errors) >= threshold) {
    return { result: 'temperror', reason: 'A block list could not be queried, try again later', details };
  }
  if (listed.length > 0) {
    return { result: 'neutral', reason: `Listed by ${listing}, below the threshold`, props: zones, details };
  }
  return { result: 'pass', details };
}

/** DNS block lists (RFC 5782): is the client listed on enough of the configured lists? */
export const dnsbl: Check<DnsblOptions> = {
  name: 'dnsbl',
  stage: 'connect',
  async run({ client, dns, options }) {
    const ip = plainIp(client.ip);
    const answers = await Promise.all(options.lists.map((list) => askList(dns, ip, list)));
    return verdict(ip, answers, options.threshold);
  },
};

/** A list is working when its "2" test point answers with a listing code (127/8, not 127.255.255.x). */
function isBlockListing(addresses: readonly string[]): boolean {
  return (
    addresses.length > 0 && classify({ zone: '', weight: 1, codes: undefined }, addresses).kind === 'listed'
  );
}

/** RFC 5782 test points of a block list: for operators checking a list before relying on it. */
export function selftest(
  dns: Resolver,
  zone: string,
  options: { ipv6?: boolean } = {},
): Promise<SelftestReport> {
  return selftestDnsxl(dns, zone, isBlockListing, options);
}

/** Registration: a listing rejects, an unanswerable list defers. */
export const dnsblRegistration: CheckRegistration<DnsblOptions> = {
  check: dnsbl,
  optionsSchema: dnsblOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

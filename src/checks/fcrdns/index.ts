import { z } from 'zod';
import { normalizeName } from '../../dns/names.js';
import type { Check, CheckRegistration } from '../../pipeline/check.js';
import { firstHostWithAddress, recordsOrEmpty } from '../../pipeline/dns-view.js';
import { plainIp } from '../../pipeline/ip.js';

/** RFC 8601 section 3 suggests a limit; ten PTR names are more than any real mail server has. */
const MAX_PTR_NAMES = 10;

/** The fcrdns check has no options. */
export const fcrdnsOptionsSchema = z.strictObject({});

export type FcrdnsOptions = z.output<typeof fcrdnsOptionsSchema>;

/**
 * Forward-confirmed reverse DNS (RFC 8601 `iprev`): does one of the client's PTR names resolve back
 * to the client's address? The confirmed name is in `details.name` for later checks.
 */
export const fcrdns: Check<FcrdnsOptions> = {
  name: 'fcrdns',
  stage: 'connect',
  method: 'iprev',
  async run({ client, dns }) {
    const ip = plainIp(client.ip);
    const props = { 'policy.iprev': ip };
    const names = (await recordsOrEmpty(dns.reverse(ip))).map(normalizeName).filter((name) => name !== '');
    // RFC 8601 2.7.3: no PTR data is a permanent error of the method, not an absence of policy.
    if (names.length === 0) return { result: 'permerror', reason: `No PTR record for [${ip}]`, props };
    const confirmed = await firstHostWithAddress(dns, names.slice(0, MAX_PTR_NAMES), ip);
    if (confirmed === undefined) {
      return {
        result: 'fail',
        reason: `Reverse DNS of [${ip}] (${names[0]}) does not resolve back to it`,
        props,
      };
    }
    return { result: 'pass', props, details: { name: confirmed } };
  },
};

/** Registration: informational by default (many honest servers lack matching reverse DNS). */
export const fcrdnsRegistration: CheckRegistration<FcrdnsOptions> = {
  check: fcrdns,
  optionsSchema: fcrdnsOptionsSchema,
  defaults: {},
};

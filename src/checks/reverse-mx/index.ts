import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { normalizeName, reverseNetworkName24, reverseNetworkName64 } from '../../dns/names.js';
import type { Check, CheckRegistration } from '../../pipeline/check.js';
import { firstHostWithAddress, recordsOrEmpty } from '../../pipeline/dns-view.js';
import { plainIp } from '../../pipeline/ip.js';

/** More exchanges than this at one network name are not looked up (bounds the DNS work per client). */
const MAX_EXCHANGES = 10;

/** Options of the reverse-mx check. */
export const reverseMxOptionsSchema = z.strictObject({
  /** After the flag day a network without Reverse MX records is refused like an unlisted host. */
  flag_day: z.boolean().default(false),
});

export type ReverseMxOptions = z.output<typeof reverseMxOptionsSchema>;

/** The reverse name of the client's network: its /24 (c.b.a.in-addr.arpa) or its /64 (16 nibbles). */
function networkName(ip: string): string {
  return isIPv4(ip) ? reverseNetworkName24(ip) : reverseNetworkName64(ip);
}

/** Reverse MX: is the client one of the exchanges its network lists at its /24's reverse name? */
export const reverseMx: Check<ReverseMxOptions> = {
  name: 'reverse-mx',
  stage: 'connect',
  async run({ client, dns, options }) {
    const ip = plainIp(client.ip);
    const zone = networkName(ip);
    const records = await recordsOrEmpty(dns.resolveMx(zone));
    if (records.length === 0) {
      return options.flag_day
        ? {
            result: 'fail',
            reason: `Your IP [${ip}] is not listed in Reverse MX: ${zone} publishes no Reverse MX records, required since the flag day`,
            props: { 'policy.zone': zone },
          }
        : { result: 'none' };
    }
    // A null MX (RFC 7505 ".") names no host: the network says none of its hosts may send.
    const exchanges = [...records]
      .sort((a, b) => a.priority - b.priority)
      .map((record) => normalizeName(record.exchange))
      .filter((exchange) => exchange !== '')
      .slice(0, MAX_EXCHANGES);
    const listed = await firstHostWithAddress(dns, exchanges, ip);
    return listed === undefined
      ? {
          result: 'fail',
          reason: `Your IP [${ip}] is not listed in Reverse MX`,
          props: { 'policy.zone': zone },
        }
      : { result: 'pass', props: { 'policy.zone': zone } };
  },
};

/** Registration: an unlisted host is refused, an unanswerable lookup deferred, no records accepted. */
export const reverseMxRegistration: CheckRegistration<ReverseMxOptions> = {
  check: reverseMx,
  optionsSchema: reverseMxOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

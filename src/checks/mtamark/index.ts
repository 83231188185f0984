import { z } from 'zod';
import { reverseName } from '../../dns/names.js';
import type { Check, CheckRegistration } from '../../pipeline/check.js';
import { recordsOrEmpty } from '../../pipeline/dns-view.js';
import { plainIp } from '../../pipeline/ip.js';

/** The mtamark check has no options. */
export const mtamarkOptionsSchema = z.strictObject({});

export type MtamarkOptions = z.output<typeof mtamarkOptionsSchema>;

/** Where MTAMark publishes a host's mark: `_send._smtp._srv.<reverse name of the address>`. */
export function mtamarkName(ip: string): string {
  return `_send._smtp._srv.${reverseName(ip)}`;
}

/** MTAMark: has the owner of the client's address marked it as a host that may send mail? */
export const mtamark: Check<MtamarkOptions> = {
  name: 'mtamark',
  stage: 'connect',
  async run({ client, dns }) {
    const ip = plainIp(client.ip);
    const name = mtamarkName(ip);
    const records = (await recordsOrEmpty(dns.resolveTxt(name))).map((strings) => strings.join(''));
    if (records.length === 0) return { result: 'none' };
    const [mark] = records;
    if (records.length === 1 && mark?.trim() === '1') return { result: 'pass' };
    if (records.length === 1 && mark?.trim() === '0') {
      return { result: 'fail', reason: `Your IP [${ip}] is marked as not sending mail (MTAMark)` };
    }
    return { result: 'permerror', reason: `Malformed MTAMark record at ${name}` };
  },
};

/** Registration: a host marked "0" is refused, an unanswerable lookup deferred. */
export const mtamarkRegistration: CheckRegistration<MtamarkOptions> = {
  check: mtamark,
  optionsSchema: mtamarkOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

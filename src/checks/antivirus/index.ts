import { isIP } from 'node:net';
import { z } from 'zod';
import { parseSize } from '../../config/units.js';
import type { Check, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { type ClamdTarget, type ClamdVerdict, clamdInstream } from './clamd.js';

/** Debian's clamd listens here (LocalSocket in /etc/clamav/clamd.conf). */
const DEFAULT_SOCKET = '/run/clamav/clamd.ctl';
/** Debian's clamd.conf sets StreamMaxLength 25M; clamd answers ERROR for anything longer anyway. */
const DEFAULT_MAX_SIZE = 25 * 1024 * 1024;

/** "host:port", "[v6]:port": where clamd's TCPSocket listens. */
function parseAddress(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (match?.[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

const sizeSchema = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseSize(value);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as "25MB", got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return bytes;
});

/** Options of the antivirus check: clamd's address (TCP) or socket (UNIX), and the largest message sent. */
export const antivirusOptionsSchema = z
  .strictObject({
    address: z
      .string()
      .refine((text) => parseAddress(text) !== undefined, 'expected "host:port", e.g. "127.0.0.1:3310"')
      .optional(),
    socket: z.string().min(1).optional(),
    max_size: sizeSchema.default(DEFAULT_MAX_SIZE),
  })
  .refine((options) => options.address === undefined || options.socket === undefined, {
    message: 'give clamd either an address or a socket, not both',
    path: ['socket'],
  })
  .transform(({ address, socket, max_size }) => {
    const tcp = address === undefined ? undefined : parseAddress(address);
    const target: ClamdTarget = tcp ?? { socketPath: socket ?? DEFAULT_SOCKET };
    return { target, maxSize: max_size };
  });

export type AntivirusOptions = z.output<typeof antivirusOptionsSchema>;

function resultOf(verdict: ClamdVerdict): CheckResult {
  switch (verdict.kind) {
    case 'clean':
      return { result: 'pass' };
    case 'infected':
      return {
        result: 'fail',
        reason: `Virus found: ${verdict.name}`,
        props: { 'policy.virus': verdict.name },
        details: { virus: verdict.name },
      };
    case 'error':
      return {
        result: 'temperror',
        reason: 'The virus scanner could not scan the message, try again later',
        details: { antivirus: 'scanner-error', clamd: verdict.message },
      };
  }
}

/** Antivirus: clamd scans the whole message (zINSTREAM); a signature match fails it. */
export const antivirus: Check<AntivirusOptions> = {
  name: 'antivirus',
  stage: 'data',
  method: 'x-antivirus',
  async run({ message, options, signal }) {
    if (message === undefined) throw new Error('antivirus runs at the data stage and needs the message');
    if (message.length > options.maxSize) {
      return {
        result: 'temperror',
        reason: 'Message too large for the virus scanner, try again later',
        details: { antivirus: 'too-large', size: String(message.length), max_size: String(options.maxSize) },
      };
    }
    return resultOf(await clamdInstream(options.target, message, signal));
  },
};

/** Registration: a virus is refused (550 5.7.1), a scanner that cannot answer defers. */
export const antivirusRegistration: CheckRegistration<AntivirusOptions> = {
  check: antivirus,
  optionsSchema: antivirusOptionsSchema,
  defaults: { fail: 'reject', temperror: 'defer' },
};

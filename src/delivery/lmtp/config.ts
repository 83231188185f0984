// The [delivery.lmtp] section: where the LMTP server (Dovecot, say) listens and which of our
// domains it owns. Delivery targets never read config files; the server builds the target from this.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../../config/units.js';

/** Where an LMTP server listens: TCP host and port, or a Unix socket. */
export type LmtpEndpoint = { host: string; port: number } | { socketPath: string };

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/;

/** "host:port", "[v6]:port" or an absolute Unix socket path; undefined when it is neither. */
export function parseLmtpAddress(text: string): LmtpEndpoint | undefined {
  if (isAbsolute(text)) return { socketPath: text };
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = typeof value === 'number' ? value : parseDuration(value);
  if (parsed === undefined || !Number.isFinite(parsed) || parsed <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.floor(parsed);
});

export const lmtpConfigSchema = z
  .object({
    /** "127.0.0.1:24" or "/run/dovecot/lmtp". */
    address: z.string().transform((text, ctx) => {
      const endpoint = parseLmtpAddress(text);
      if (endpoint === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected "host:port" or an absolute socket path' });
        return z.NEVER;
      }
      return endpoint;
    }),
    /** Our domains whose mailboxes the LMTP server owns; their recipients go to target 'lmtp'. */
    domains: z.array(z.string().min(1).toLowerCase()).min(1),
    /** Name we give in LHLO; default: the server's hostname. */
    lhlo: z.string().min(1).optional(),
    /** Longest wait for any one reply (the per-recipient replies after DATA included). */
    timeout: duration.default(120_000),
  })
  .strict();

export type LmtpConfig = z.infer<typeof lmtpConfigSchema>;

/** True when the LMTP server owns this address's domain. */
export function servedByLmtp(config: Pick<LmtpConfig, 'domains'>, address: string): boolean {
  const at = address.lastIndexOf('@');
  return at >= 0 && config.domains.includes(address.slice(at + 1).toLowerCase());
}

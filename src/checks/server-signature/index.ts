import { z } from 'zod';
import type { Check, CheckContext, CheckRegistration, CheckResult } from '../../pipeline/check.js';
import { plainIp } from '../../pipeline/ip.js';
import { signatureEntry } from '../dkim/results.js';
import { verifyMessageOnce } from '../dkim/verify.js';
import { fcrdns } from '../fcrdns/index.js';
import { signsForHost } from './binding.js';

/** Options of the server-signature check. */
export const serverSignatureOptionsSchema = z.strictObject({
  /** RSA keys shorter than this many bits are not accepted (RFC 8301: at least 1024). */
  min_key_bits: z.number().int().min(512).max(16384).default(1024),
});

export type ServerSignatureOptions = z.output<typeof serverSignatureOptionsSchema>;

/**
 * The Authentication-Results method. No registered method says "signed by the sending host", and
 * RFC 8601 section 2.7.6 has readers ignore methods they do not know, so a private name cannot be
 * mistaken for the message's own dkim result.
 */
export const SERVER_SIGNATURE_METHOD = 'x-server-signature';

type ServerSignatureContext = CheckContext<ServerSignatureOptions>;

/** The client's forward-confirmed name: the fcrdns check's result of this session, or asked now. */
async function confirmedName(ctx: ServerSignatureContext): Promise<CheckResult> {
  return ctx.earlier.get('fcrdns') ?? fcrdns.run({ ...ctx, options: {} });
}

/** The A-R entry of a signature that binds the message to the client's name. */
function bound(signature: CheckResult, host: string): CheckResult {
  return {
    result: 'pass',
    props: { ...signature.props, 'policy.ptr': host },
    details: { ...signature.details, host },
  };
}

/** Why none of the signatures is a server signature for `host`, for the SMTP reply. */
function unboundReason(signatures: readonly CheckResult[], host: string): string {
  const valid = signatures.filter((signature) => signature.result === 'pass');
  if (valid.length === 0) {
    const why = signatures.map((s) => `d=${s.details?.domain}: ${s.reason ?? s.result}`).join('; ');
    return `No valid server signature: no DKIM signature verifies (${why})`;
  }
  const domains = valid.map((signature) => `d=${signature.details?.domain}`).join(', ');
  return `No valid server signature: ${domains} is not the sending host ${host} or a parent domain of it`;
}

/**
 * Server signature (outpost's trusted-MX rule, docs/protocols/rttl.md): a valid DKIM signature whose
 * d= is the client's forward-confirmed reverse DNS name or a parent domain of it that is not a
 * public suffix, so the sending host itself vouches for the message with a key in DNS.
 */
export const serverSignature: Check<ServerSignatureOptions> = {
  name: 'server-signature',
  stage: 'data',
  method: SERVER_SIGNATURE_METHOD,
  async run(ctx) {
    const { message, options, client } = ctx;
    if (message === undefined) return { result: 'none', reason: 'no message to verify' };
    const verified = await verifyMessageOnce(message, ctx.dns, {
      minKeyBits: options.min_key_bits,
      now: ctx.now(),
    });
    const signatures = verified.results.map(signatureEntry).filter((entry) => entry.details !== undefined);
    if (signatures.length === 0) {
      return { result: 'none', reason: 'No server signature: the message has no DKIM signature' };
    }
    const ip = plainIp(client.ip);
    const name = await confirmedName(ctx);
    if (name.result === 'temperror') {
      return { result: 'temperror', reason: `Reverse DNS of [${ip}] could not be looked up now` };
    }
    const host = name.details?.name;
    if (name.result !== 'pass' || host === undefined) {
      return {
        result: 'fail',
        reason: `No valid server signature: [${ip}] has no forward-confirmed reverse DNS name to sign for`,
        props: { 'policy.iprev': ip },
      };
    }
    const binding = signatures.find(
      (signature) => signature.result === 'pass' && signsForHost(signature.details?.domain ?? '', host),
    );
    if (binding !== undefined) return bound(binding, host);
    // A key that could not be fetched might have been the binding one.
    if (signatures.some((signature) => signature.result === 'temperror')) {
      return {
        result: 'temperror',
        reason: 'A DKIM key could not be looked up now',
        props: { 'policy.ptr': host },
      };
    }
    return { result: 'fail', reason: unboundReason(signatures, host), props: { 'policy.ptr': host } };
  },
};

/** Registration: made for the trusted MX, so a message without a server signature is refused. */
export const serverSignatureRegistration: CheckRegistration<ServerSignatureOptions> = {
  check: serverSignature,
  optionsSchema: serverSignatureOptionsSchema,
  defaults: { fail: 'reject', none: 'reject', temperror: 'defer' },
};

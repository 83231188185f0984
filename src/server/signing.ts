// Outbound signatures: the sender domain's DKIM signature (DMARC alignment) and the host's "server
// signature" (d= our host name or a parent of it), the identity a trusted MX asks for.
import { domainOf } from '../core/address.js';
import type { Logger } from '../core/log.js';
import { type DkimSigningKey, hostCandidates } from '../dkim/keys.js';
import { signMessage } from '../dkim/sign.js';

/** Signs with the sender domain's keys and the server keys; a message that cannot be signed goes out as is. */
export function outboundSigner(
  keys: ReadonlyMap<string, DkimSigningKey[]>,
  hostname: string,
  logger: Pick<Logger, 'warn'>,
): (body: Buffer, sender: string) => Promise<Buffer> {
  const serverDomain = hostCandidates(hostname).find((name) => keys.has(name));
  return async (body, sender) => {
    const domains = new Set<string>();
    const senderDomain = sender === '' ? undefined : domainOf(sender).toLowerCase();
    if (senderDomain !== undefined && keys.has(senderDomain)) domains.add(senderDomain);
    if (serverDomain !== undefined) domains.add(serverDomain);
    let signed = body;
    for (const domain of domains) {
      try {
        signed = await signMessage(signed, keys.get(domain) ?? [], { domain });
      } catch (error) {
        logger.warn({ domain, err: String(error) }, 'message not DKIM-signed');
      }
    }
    return signed;
  };
}

// Outbound signatures: the sender domain's DKIM signature (DMARC alignment) and the host's "server
// signature" (d= our host name or a parent of it), the identity a trusted MX asks for.
import { getDomain } from 'tldts';
import { domainOf } from '../core/address.js';
import type { Logger } from '../core/log.js';
import type { DkimSigningKey } from '../dkim/keys.js';
import { signMessage } from '../dkim/sign.js';

/** The host name itself, then each parent down to the registrable domain (never a public suffix). */
function hostCandidates(hostname: string): string[] {
  const registrable = getDomain(hostname) ?? hostname;
  const names: string[] = [];
  let name = hostname.toLowerCase();
  for (;;) {
    names.push(name);
    if (name === registrable || !name.includes('.')) return names;
    name = name.slice(name.indexOf('.') + 1);
  }
}

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

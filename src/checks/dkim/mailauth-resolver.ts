import type { DNSResolver } from 'mailauth';
import type { RecordType, Resolver } from '../../dns/types.js';

// What SPF, DKIM and ARC ask mailauth's resolver for; anything else is refused rather than guessed.
const ASKED_TYPES: ReadonlySet<string> = new Set<RecordType>(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME']);

function isAskedType(type: string): type is RecordType {
  return ASKED_TYPES.has(type);
}

// One adapter per DNS view, so mailauth's DKIM and ARC verifiers recognise the same resolver and share key lookups.
const adapters = new WeakMap<Resolver, DNSResolver>();

/**
 * A DNS view in the shape mailauth's `resolver` option takes (node's dns.promises.resolve): answers,
 * and errors with node's codes (ENOTFOUND, ENODATA, ETIMEOUT, ...), come from outpost's resolver.
 */
export function mailauthResolver(dns: Resolver): DNSResolver {
  const known = adapters.get(dns);
  if (known !== undefined) return known;
  const adapter: DNSResolver = async (name, type) => {
    const kind = type.toUpperCase();
    if (!isAskedType(kind)) {
      throw Object.assign(new Error(`query${type} ENOTIMP ${name}`), { code: 'ENOTIMP', hostname: name });
    }
    // mailauth declares string answers only; it reads MX objects as node returns them, which we match.
    return (await dns.resolve(name, kind)) as string[][] | string[];
  };
  adapters.set(dns, adapter);
  return adapter;
}

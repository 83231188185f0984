/** An envelope address split at the last "@"; the null sender is the empty string. */
export interface Address {
  local: string;
  domain: string;
}

export function parseAddress(text: string): Address | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return undefined;
  return { local: text.slice(0, at), domain: text.slice(at + 1).toLowerCase() };
}

export function formatAddress(a: Address): string {
  return `${a.local}@${a.domain}`;
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

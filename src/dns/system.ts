import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

const FALLBACK_SERVERS = ['127.0.0.1:53'];

/** The `nameserver` lines of a resolv.conf text, as 'ip:53' / '[ipv6]:53'. */
export function nameServersOf(resolvConf: string): string[] {
  const servers: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const [keyword, address] = line.trim().split(/\s+/, 2);
    if (keyword !== 'nameserver' || !address) continue;
    const family = isIP(address);
    if (family === 4) servers.push(`${address}:53`);
    else if (family === 6) servers.push(`[${address}]:53`);
  }
  return servers;
}

/** The system's resolvers from /etc/resolv.conf, or 127.0.0.1:53 when there are none. */
export function systemNameServers(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [...FALLBACK_SERVERS];
  }
  const servers = nameServersOf(text);
  return servers.length > 0 ? servers : [...FALLBACK_SERVERS];
}

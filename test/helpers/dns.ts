import type { TestContext } from 'node:test';
import { type CachingResolver, createResolver } from '../../src/dns/resolver.js';
import { type DnsServer, startDnsServer } from '../../src/dns/server.js';
import { ZoneSet } from '../../src/dns/zone.js';
import { parseZoneFile } from '../../src/dns/zonefile.js';

/** What startTestDns gives a test: the server, a resolver that asks only it, and 'ip:port'. */
export interface TestDns {
  server: DnsServer;
  resolver: CachingResolver;
  serverAddress: string;
}

/**
 * Removes the indentation common to all non-blank lines, so zone text can be written indented in a
 * template literal. Lines indented further than the rest keep the difference (= owner omitted).
 */
function dedent(text: string): string {
  const lines = text.split('\n');
  const indents = lines
    .filter((line) => line.trim() !== '')
    .map((line) => line.length - line.trimStart().length);
  const common = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((line) => line.slice(Math.min(common, line.length - line.trimStart().length))).join('\n');
}

/**
 * Starts outpost's DNS server on 127.0.0.1 (ephemeral port) serving `zoneText` (master-file
 * syntax, indentation allowed; zones start at `origin`, at $ORIGIN lines and at SOA records; TTL
 * 300 unless given) and a resolver pointed at it. Both are closed when the test ends.
 */
export async function startTestDns(t: TestContext, zoneText: string, origin?: string): Promise<TestDns> {
  const zones = new ZoneSet();
  zones.replaceAll(parseZoneFile(dedent(zoneText), { fileName: 'test zone', origin, defaultTtl: 300 }));
  const server = await startDnsServer({ address: '127.0.0.1', port: 0, zones });
  t.after(() => server.close());
  const serverAddress = `127.0.0.1:${server.port}`;
  const resolver = createResolver({ servers: [serverAddress], timeoutMs: 1000, tries: 2 });
  return { server, resolver, serverAddress };
}

import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { loadDkimKeys } from '../dkim/keys.js';
import { mxHostsFromListeners, renderDnsRecords } from '../dkim/records.js';
import { normalizeName } from '../dns/names.js';
import { action, CliError, loadRuntimeConfig } from './context.js';
import { im2000RecordLines } from './im2000.js';

interface RecordsOptions {
  config?: string;
  data?: string;
  address?: string[];
  ttl: string;
}

/** The trust-list zones the trusted MX listeners' rttl checks consult (a list is "zone" or { zone }). */
function trustListZones(config: Config): string[] {
  const zones = config.listeners
    .filter((listener) => listener.profile === 'mx-trusted')
    .flatMap((listener) => listener.checks.filter((check) => check.use === 'rttl'))
    .flatMap((check) => (Array.isArray(check.lists) ? (check.lists as unknown[]) : []))
    .map((list) => (typeof list === 'object' && list !== null && 'zone' in list ? list.zone : list))
    .filter((zone): zone is string => typeof zone === 'string')
    .map(normalizeName);
  return [...new Set(zones)];
}

async function records(domainArgument: string | undefined, options: RecordsOptions): Promise<void> {
  const config = await loadRuntimeConfig(options);
  const localDomains = config.domains.map(normalizeName);
  let domains = localDomains;
  if (domainArgument !== undefined) {
    const wanted = normalizeName(domainArgument);
    if (!localDomains.includes(wanted)) {
      throw new CliError(`${wanted} is not a local domain (domains: ${localDomains.join(', ')})`);
    }
    domains = [wanted];
  }
  const ttl = Number(options.ttl);
  if (!Number.isInteger(ttl) || ttl < 0) throw new CliError('--ttl: expected a whole number of seconds');
  // Library errors (an unreadable key, a bad --address) already explain themselves; action() prints them.
  const dkimKeys = await loadDkimKeys(config.data_dir);
  process.stdout.write(
    renderDnsRecords({
      hostname: config.hostname,
      domains,
      addresses: options.address ?? [],
      dkimKeys,
      mxHosts: mxHostsFromListeners(config.hostname, config.listeners),
      trustLists: trustListZones(config),
      ttl,
    }),
  );
  if (config.im2000.enabled) {
    const lines = await im2000RecordLines(config, {
      port: Number(config.im2000.address.split(':').pop()),
      ttl,
    });
    if (lines.length > 0) process.stdout.write(`; IM2000 post office\n${lines.join('\n')}\n`);
  }
}

/** Adds `dns records [domain]`: every record the operator must publish, in zone-file syntax. */
export function registerDnsRecordsCommand(dnsCommand: Command): void {
  dnsCommand
    .command('records')
    .description(
      'print the DNS records to publish: MX (trusted first), SPF, DKIM, DMARC, server key, Reverse MX, MTAMark',
    )
    .argument('[domain]', 'only this local domain')
    .option(
      '--address <ip...>',
      "this host's public IPv4/IPv6 addresses (A/AAAA, SPF, PTR, Reverse MX, MTAMark)",
    )
    .option('--ttl <seconds>', 'TTL of the records', '3600')
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(action(records));
}

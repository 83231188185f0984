import type { Command } from 'commander';
import { describeError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { formatRecord } from '../dns/presentation.js';
import { fromWireAnswer } from '../dns/records.js';
import { type DnsServer, startDnsServer } from '../dns/server.js';
import { systemNameServers } from '../dns/system.js';
import { exchange, parseIpPort, parseNameServer, Rcode, rcodeName } from '../dns/wire.js';
import { ZoneSet } from '../dns/zone.js';
import { loadZoneFiles } from '../dns/zonefile.js';

const QUERY_TYPES = ['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SRV', 'SOA'] as const;
type QueryType = (typeof QUERY_TYPES)[number];

interface ServeOptions {
  zone: string[];
  listen: string;
}

interface QueryOptions {
  server?: string;
  timeout: string;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One line on stderr and exit code 1: what operators see instead of a stack trace. */
function failWith(command: string, error: unknown): void {
  process.stderr.write(`outpost ${command}: ${describeError(error)}\n`);
  process.exitCode = 1;
}

/** Serves the zone files until SIGTERM/SIGINT; SIGHUP reloads them (keeping the old data on error). */
async function serve(options: ServeOptions): Promise<void> {
  let server: DnsServer;
  try {
    const listen = parseIpPort(options.listen, '--listen address', 5353, 0);
    const zones = new ZoneSet();
    zones.replaceAll(await loadZoneFiles(options.zone));
    server = await startDnsServer({
      address: listen.host,
      port: listen.port,
      zones,
      logger: createLogger('warn'),
    });
  } catch (error) {
    failWith('dns serve', error);
    return;
  }
  const where = server.address.includes(':')
    ? `[${server.address}]:${server.port}`
    : `${server.address}:${server.port}`;
  say(`dns: serving ${server.zones.origins().join(', ')} on ${where} (UDP and TCP)`);

  const reload = async (): Promise<void> => {
    try {
      server.zones.replaceAll(await loadZoneFiles(options.zone));
      say(`dns: reloaded ${server.zones.origins().join(', ')}`);
    } catch (error) {
      process.stderr.write(
        `outpost dns serve: reload failed, still serving the old zones: ${describeError(error)}\n`,
      );
    }
  };
  const onHangup = (): void => void reload();
  const stop = async (): Promise<void> => {
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    await server.close();
    say('dns: stopped');
  };
  const onStop = (): void => void stop();
  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
}

function queryType(text: string): QueryType {
  const type = text.toUpperCase();
  const known = QUERY_TYPES.find((candidate) => candidate === type);
  if (!known) throw new Error(`unsupported type '${text}' (${QUERY_TYPES.join(', ')})`);
  return known;
}

/** Asks one question and prints the answer in master-file form; exit code 1 unless NOERROR. */
async function query(name: string, typeText: string, options: QueryOptions): Promise<void> {
  try {
    const type = queryType(typeText);
    const timeoutMs = Number(options.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new Error('--timeout must be a whole number of ms');
    const servers = (options.server ? [options.server] : systemNameServers()).map(parseNameServer);
    const reply = await exchange(servers, { name, type }, { timeoutMs, tries: 2 });
    const authoritative = reply.packet.flag_aa ? ', authoritative' : '';
    say(
      `;; ${rcodeName(reply.rcode)} from ${reply.server.label} over ${reply.transport.toUpperCase()}${authoritative}`,
    );
    for (const answer of reply.packet.answers ?? []) {
      const record = fromWireAnswer(answer);
      say(record ? formatRecord(record) : `;; ${answer.name} ${answer.type} (type not shown)`);
    }
    for (const answer of reply.packet.authorities ?? []) {
      const record = fromWireAnswer(answer);
      if (record) say(`;; authority: ${formatRecord(record)}`);
    }
    if (reply.rcode !== Rcode.NOERROR) process.exitCode = 1;
  } catch (error) {
    failWith('dns query', error);
  }
}

/** Adds `dns serve` (authoritative server for zone files) and `dns query` (one lookup) to the CLI. */
export function registerDnsCommands(program: Command): Command {
  const dns = program.command('dns').description('authoritative DNS server and lookups');
  dns
    .command('serve')
    .description('serve zone files (RFC 1035 master files, or .toml) over UDP and TCP; SIGHUP reloads')
    .requiredOption('--zone <file...>', 'zone files to serve')
    .option('--listen <ip:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:5353')
    .action((options: ServeOptions) => serve(options));
  dns
    .command('query')
    .description('ask a DNS server one question and print the answer')
    .argument('<name>', 'domain name')
    .argument('[type]', `record type (${QUERY_TYPES.join(', ')})`, 'A')
    .option('--server <ip:port>', 'server to ask (default: the nameservers of /etc/resolv.conf)')
    .option('--timeout <ms>', 'wait per attempt', '2000')
    .action((name: string, type: string, options: QueryOptions) => query(name, type, options));
  return dns;
}

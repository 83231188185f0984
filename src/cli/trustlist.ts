import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from 'commander';
import { createLogger } from '../core/log.js';
import { createResolver } from '../dns/resolver.js';
import { parseIpPort } from '../dns/wire.js';
import {
  auditLine,
  complaintLine,
  complaintOutcomeLines,
  entryLine,
  probeLines,
} from '../trustlist/describe.js';
import { authenticationResultsOf } from '../trustlist/evidence.js';
import {
  admissionReport,
  checkAttestedRule,
  DEFAULT_POLICY,
  fileComplaint,
  relistEntry,
  requestRemoval,
} from '../trustlist/policy.js';
import { probeApplicant, recordProbe } from '../trustlist/probe.js';
import { exportRbldnsd, parseRbldnsd, RBLDNSD_FORMATS, type RbldnsdFormat } from '../trustlist/rbldnsd.js';
import { startTrustListServer } from '../trustlist/serve.js';
import { TrustListStore, trustListDbFile } from '../trustlist/store.js';
import { action, CliError, configLocation } from './context.js';

interface DataOptions {
  data?: string;
}

function say(...lines: string[]): void {
  for (const line of lines) process.stdout.write(`${line}\n`);
}

/** Who the audit log names for CLI changes. */
function cliActor(): string {
  return `cli:${os.userInfo().username}`;
}

function openStore(options: DataOptions): TrustListStore {
  return TrustListStore.open(trustListDbFile(configLocation(options).dataDir));
}

/** Runs `work` with the list's store open, closing it afterwards. */
async function withList(
  options: DataOptions,
  work: (store: TrustListStore) => Promise<void> | void,
): Promise<void> {
  const store = openStore(options);
  try {
    await work(store);
  } finally {
    store.close();
  }
}

function whole(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new CliError(`${what}: expected a whole number ${min}..${max}`);
  return value;
}

function format(text: string | undefined): RbldnsdFormat {
  const found = RBLDNSD_FORMATS.find((name) => name === (text ?? 'ip4trie'));
  if (!found) throw new CliError(`--format: expected one of ${RBLDNSD_FORMATS.join(', ')}`);
  return found;
}

const withData = (command: Command): Command =>
  command.option('-d, --data <dir>', 'data directory holding trustlist.db (default: ./data)');

interface ServeOptions extends DataOptions {
  zone: string;
  listen: string;
  ttl: string;
  workers: string;
  nameserver?: string[];
}

/** Serves until SIGTERM/SIGINT; SIGHUP reloads; changes by other commands are picked up within a second. */
async function serve(options: ServeOptions): Promise<void> {
  const listen = parseIpPort(options.listen, '--listen address', 5354, 0);
  const store = openStore(options);
  const server = await startTrustListServer({
    store,
    zone: options.zone,
    address: listen.host,
    port: listen.port,
    ttl: whole(options.ttl, '--ttl', 0, 86_400),
    udpWorkers: whole(options.workers, '--workers', 0, 16),
    nameservers: options.nameserver ?? [],
    logger: createLogger('warn'),
  }).catch((error: unknown) => {
    store.close();
    throw error;
  });
  const where = server.address.includes(':')
    ? `[${server.address}]:${server.port}`
    : `${server.address}:${server.port}`;
  say(`trustlist: serving ${server.zone} on ${where} (UDP and TCP), serial ${server.serial()}`);
  const onHangup = (): void => {
    server.reload();
    say(`trustlist: reloaded, serial ${server.serial()}`);
  };
  const onStop = (): void => {
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    void server.close().then(() => {
      store.close();
      say('trustlist: stopped');
    });
  };
  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
}

interface AddOptions extends DataOptions {
  category?: string;
  trust?: string;
  text?: string;
  contact?: string;
  exclude?: boolean;
  reason?: string;
}

function add(network: string, options: AddOptions): Promise<void> {
  return withList(options, (store) => {
    if (!options.exclude && (options.category === undefined || options.trust === undefined)) {
      throw new CliError('--category and --trust are required (or --exclude with --reason)');
    }
    const entry = store.add(
      {
        network,
        exclude: options.exclude === true,
        reason: options.reason,
        category: options.category === undefined ? undefined : whole(options.category, '--category', 2, 15),
        trust: options.trust === undefined ? undefined : whole(options.trust, '--trust', 0, 3),
        text: options.text,
        contact: options.contact,
      },
      cliActor(),
    );
    say(entryLine(entry));
    const missing = admissionReport(store, entry.network).missing;
    if (!options.exclude && missing.length > 0) say(`note: admission not established: ${missing.join(', ')}`);
  });
}

async function importFile(
  file: string,
  options: DataOptions & { format?: string; replace?: boolean },
): Promise<void> {
  const parsed = parseRbldnsd(await readFile(file, 'utf8'), format(options.format));
  await withList(options, (store) => {
    const summary = store.importEntries(parsed.entries, cliActor(), {
      replace: options.replace === true,
      replaceReason: `not in ${file} (import --replace)`,
    });
    say(
      `imported ${file}: ${summary.added} added, ${summary.updated} updated, ${summary.unchanged} unchanged` +
        `${options.replace ? `, ${summary.delisted} delisted` : ''}`,
      ...summary.keptDelisted.map((network) => `kept delisted: ${network} (relist it to list it again)`),
      ...parsed.skipped.map((item) => `skipped line ${item.line}: ${item.why}`),
    );
  });
}

async function exportList(options: DataOptions & { format?: string; output?: string }): Promise<void> {
  const chosen = format(options.format);
  await withList(options, async (store) => {
    const exported = exportRbldnsd(store.all(), chosen);
    if (!options.output) {
      process.stdout.write(exported.text);
      return;
    }
    // Write beside and rename, so a running rbldnsd never reads half a file.
    await writeFile(`${options.output}.tmp`, exported.text, { mode: 0o644 });
    await rename(`${options.output}.tmp`, options.output);
    say(
      `wrote ${exported.written} entries to ${options.output} (${exported.skipped} of the other address family left out)`,
    );
  });
}

async function complaint(
  ip: string,
  options: DataOptions & { evidence: string; reporter?: string },
): Promise<void> {
  const message = await readFile(options.evidence, 'utf8');
  await withList(options, (store) => {
    const outcome = fileComplaint(
      store,
      {
        ip,
        message,
        authenticationResults: authenticationResultsOf(message),
        reporter: options.reporter ?? cliActor(),
      },
      DEFAULT_POLICY,
      cliActor(),
    );
    say(...complaintOutcomeLines(outcome));
  });
}

interface ProbeCliOptions extends DataOptions {
  domain: string;
  selector?: string;
  contact?: string;
  dns?: string;
  timeout: string;
}

async function probe(target: string, options: ProbeCliOptions): Promise<void> {
  const where = parseIpPort(target, 'probe target', 25);
  const resolver = createResolver(options.dns ? { servers: [options.dns] } : {});
  const result = await probeApplicant({
    host: where.host,
    port: where.port,
    domain: options.domain,
    selector: options.selector,
    contact: options.contact,
    resolver,
    timeoutMs: whole(options.timeout, '--timeout', 100, 120_000),
  });
  await withList(options, (store) => {
    const recorded = recordProbe(store, result, cliActor());
    say(...probeLines(result), `recorded as probe #${recorded.id}`);
  });
  if (!result.passed) process.exitCode = 1;
}

function remove(
  network: string,
  options: DataOptions & { reason?: string; requestedBy?: string },
): Promise<void> {
  return withList(options, (store) => {
    const entry = store.get(network);
    if (entry?.status === 'excluded') {
      say(`exclusion lifted: ${entryLine(store.removeExclusion(entry.network, cliActor()))}`);
    } else if (options.requestedBy) {
      say(entryLine(requestRemoval(store, network, options.requestedBy, cliActor())));
    } else say(entryLine(store.remove(network, options.reason ?? '', cliActor())));
  });
}

function show(network: string, options: DataOptions): Promise<void> {
  return withList(options, (store) => {
    const entry = store.get(network);
    if (!entry) throw new CliError(`${network} is not on the list`);
    const report = admissionReport(store, entry.network);
    say(
      entryLine(entry),
      `listed since ${entry.listedSince}, last change ${entry.updatedAt}`,
      `admission: ${report.missing.length === 0 ? 'complete' : `missing ${report.missing.join(', ')}`}`,
      ...(report.probe
        ? [
            `last probe: #${report.probe.id} ${report.probe.startedAt} ${report.probe.passed ? 'passed' : 'failed'}`,
          ]
        : []),
      ...report.attestations.map(
        (item) => `attested ${item.rule} by ${item.actor} at ${item.at}${item.note ? `: ${item.note}` : ''}`,
      ),
      ...store.complaintsFor(entry.network).map(complaintLine),
    );
  });
}

/** `outpost trustlist ...`: run a Real-Time Trust List (the operator side). */
export function registerTrustlistCommands(program: Command): void {
  const trustlist = program
    .command('trustlist')
    .description('operate a Real-Time Trust List: entries, complaints, probes, DNS');

  withData(trustlist.command('serve').description('serve the list over DNS (UDP and TCP); SIGHUP reloads'))
    .requiredOption('--zone <zone>', 'the list zone, e.g. trust.example.org')
    .option('--listen <ip:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:5354')
    .option('--ttl <seconds>', 'TTL of answers', '300')
    .option('--workers <n>', 'extra processes answering UDP', '0')
    .option('--nameserver <name...>', 'NS names of the zone (the first is the SOA MNAME)')
    .action(action(serve));

  withData(
    trustlist.command('add <network>').description('list a network (or exclude it from covering listings)'),
  )
    .option('--category <n>', 'category 2..15 (2 financial, 3 ESP, 4 government, 5 ISP, 6 business)')
    .option('--trust <n>', 'trust 0..3 (none, low, medium, high)')
    .option('--text <text>', 'TXT text; "$" is replaced by the address asked about, "$$" is a dollar sign')
    .option('--contact <address>', 'abuse contact for the network')
    .option('--exclude', 'exclude the network instead of listing it')
    .option('--reason <text>', 'why (required with --exclude)')
    .action(action(add));

  withData(trustlist.command('remove <network>').description('delist a network (an exclusion is lifted)'))
    .option('--reason <text>', 'why; published in TXT')
    .option('--requested-by <who>', 'the holder asked to be taken off (instead of --reason)')
    .action(action(remove));

  withData(trustlist.command('relist <network>').description('list a delisted network again'))
    .option('--force', `skip the ${DEFAULT_POLICY.relistAfterDays}-day waiting period (needs --reason)`)
    .option('--reason <text>', 'why; kept in the audit log')
    .action(
      action((network: string, options: DataOptions & { force?: boolean; reason?: string }) =>
        withList(options, (store) =>
          say(entryLine(relistEntry(store, network, DEFAULT_POLICY, cliActor(), options))),
        ),
      ),
    );

  withData(trustlist.command('list').description('the entries, in address order'))
    .option('--status <status>', 'only listed, delisted or excluded')
    .option('--limit <n>', 'at most n entries', '1000')
    .action(
      action((options: DataOptions & { status?: string; limit: string }) =>
        withList(options, (store) => {
          const statuses = ['listed', 'delisted', 'excluded'] as const;
          const status = statuses.find((name) => name === options.status);
          if (options.status && !status)
            throw new CliError(`--status: expected one of ${statuses.join(', ')}`);
          const entries = store.list({ status, limit: whole(options.limit, '--limit', 1, 10_000_000) });
          say(...entries.map(entryLine));
          if (entries.length === 0) say('the list is empty');
        }),
      ),
    );

  withData(
    trustlist.command('show <network>').description('an entry with its admission evidence and complaints'),
  ).action(action(show));

  withData(trustlist.command('import <file>').description('import an rbldnsd dataset (all or nothing)'))
    .option('--format <format>', `${RBLDNSD_FORMATS.join(', ')}`, 'ip4trie')
    .option('--replace', 'delist listed networks the file does not have')
    .action(action(importFile));

  withData(trustlist.command('export').description('write the list as an rbldnsd dataset'))
    .option('--format <format>', `${RBLDNSD_FORMATS.join(', ')}`, 'ip4trie')
    .option('-o, --output <file>', 'write to a file (atomically) instead of standard output')
    .action(action(exportList));

  withData(trustlist.command('complaint <ip>').description('file a complaint about mail from an address'))
    .requiredOption('--evidence <file>', 'the message complained about, as received')
    .option('--reporter <who>', 'who complains (default: the CLI user)')
    .action(action(complaint));

  withData(
    trustlist
      .command('probe <host:port>')
      .description('admission probe: open relay tricks, reverse DNS, key, contact'),
  )
    .requiredOption('--domain <domain>', "the applicant's mail domain")
    .option('--selector <selector>', 'DKIM selector of the server-signature key')
    .option('--contact <address>', 'abuse contact')
    .option('--dns <ip:port>', 'DNS server to ask (default: the system resolver)')
    .option('--timeout <ms>', 'per step', '10000')
    .action(action(probe));

  withData(
    trustlist
      .command('attest <network> <rule>')
      .description('record an admission rule the operator vouches for'),
  )
    .option('--note <text>', 'how it was established', '')
    .action(
      action((network: string, rule: string, options: DataOptions & { note: string }) =>
        withList(options, (store) => {
          const attestation = store.attest(network, checkAttestedRule(rule), options.note, cliActor());
          say(`attested ${attestation.rule} for ${attestation.network}`);
        }),
      ),
    );

  withData(trustlist.command('audit').description('the audit log, newest first'))
    .option('--subject <subject>', 'only changes to this network (or "complaint:<id>")')
    .option('--limit <n>', 'at most n records', '100')
    .action(
      action((options: DataOptions & { subject?: string; limit: string }) =>
        withList(options, (store) => {
          say(
            ...store
              .auditLog({ subject: options.subject, limit: whole(options.limit, '--limit', 1, 1_000_000) })
              .map(auditLine),
          );
        }),
      ),
    );
}

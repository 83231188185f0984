import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { createResolver } from '../dns/resolver.js';
import { initAuthority, releaseNext, showAuthority } from '../gen/authority.js';
import { encodeCookie, normalizeZone } from '../gen/chain.js';
import {
  DEFAULT_MAX_AGE,
  describeComparison,
  initServerState,
  loadServerState,
  makeServerState,
  updateFromDns,
  verifyPeer,
} from '../gen/server-state.js';
import { genZoneFileLine, parseEpoch } from '../gen/txt.js';
import { action, CliError } from './context.js';

function genDir(): string {
  return path.resolve(process.env.OUTPOST_DATA_DIR ?? './data', 'gen');
}

const defaultAuthorityPath = (): string => path.join(genDir(), 'authority.json');
const defaultStatePath = (): string => path.join(genDir(), 'state.json');

/** Runs library code whose errors explain themselves, turning them into operator errors: one line, exit 1. */
async function explained<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

function integerOption(text: string, what: string): number {
  const value = parseEpoch(text);
  if (value === undefined) throw new CliError(`${what}: "${text}" is not a whole number`);
  return value;
}

function zoneOption(text: string): string {
  try {
    return normalizeZone(text);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function print(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

interface UpdateOptions {
  zone: string;
  state?: string;
  server?: string;
  epoch?: string;
  cookie?: string;
  maxAge?: string;
}

/** `gen update`: bootstraps from a trusted starting point when asked, then follows DNS. */
async function update(options: UpdateOptions): Promise<void> {
  const zone = zoneOption(options.zone);
  const statePath = path.resolve(options.state ?? defaultStatePath());
  const bootstrap = options.epoch !== undefined || options.cookie !== undefined;
  if (bootstrap) {
    if (options.epoch === undefined || options.cookie === undefined) {
      throw new CliError('a starting point needs both --epoch and --cookie');
    }
    const epoch = integerOption(options.epoch, '--epoch');
    const maxAge =
      options.maxAge === undefined ? DEFAULT_MAX_AGE : integerOption(options.maxAge, '--max-age');
    const cookie = options.cookie;
    const state = await explained(() => makeServerState({ zone, epoch, cookie, maxAge }));
    await explained(() => initServerState(statePath, state));
    print([`${zone}: starting point epoch ${state.epoch} stored in ${statePath}`]);
  } else if (!(await exists(statePath))) {
    throw new CliError(
      `${statePath} does not exist: give the starting point you trust with --epoch E --cookie C ` +
        "(from the authority's announcement, not from DNS)",
    );
  }
  const current = await explained(() => loadServerState(statePath));
  if (current.zone !== zone) throw new CliError(`${statePath} follows ${current.zone}, not ${zone}`);
  const servers = options.server === undefined ? {} : { servers: [options.server] };
  const resolver = await explained(() => createResolver(servers));
  const outcome = await explained(() => updateFromDns(statePath, resolver));
  if (outcome.status === 'current') {
    print([`${zone}: already current at epoch ${outcome.epoch}`]);
  } else {
    const plural = outcome.generations === 1 ? 'generation' : 'generations';
    print([`${zone}: advanced ${outcome.generations} ${plural}, epoch ${outcome.from} -> ${outcome.to}`]);
  }
  const now = await explained(() => loadServerState(statePath));
  print([
    'gen-cookie check block:',
    `  zone = "${now.zone}"`,
    `  epoch = ${now.epoch}`,
    `  cookie = "${encodeCookie(now.cookie)}"`,
    `  max_age = ${now.maxAge}`,
  ]);
}

/** `gen verify`: would a peer offering EPOCH COOKIE pass our gen-cookie check? Exit 1 when not. */
async function verify(
  epochText: string,
  cookieText: string,
  options: { zone: string; state?: string },
): Promise<void> {
  const zone = zoneOption(options.zone);
  const statePath = path.resolve(options.state ?? defaultStatePath());
  const state = await explained(() => loadServerState(statePath));
  if (state.zone !== zone) throw new CliError(`${statePath} follows ${state.zone}, not ${zone}: result none`);
  const epoch = integerOption(epochText, 'EPOCH');
  const comparison = await explained(() => verifyPeer(state, epoch, cookieText));
  print([`${comparison.result}: ${describeComparison(comparison)}`]);
  if (comparison.result === 'fail') process.exitCode = 1;
}

/** `outpost gen init|release|show|update|verify`: generation cookies, authority and server side. */
export function registerGenCommands(program: Command): void {
  const gen = program.command('gen').description('generation cookies: retire mail servers nobody maintains');

  gen
    .command('init')
    .description('create a chain authority (random secret seed, kept in a 0600 file)')
    .requiredOption('--zone <zone>', "the chain's zone; the record is published at _gen.<zone>")
    .requiredOption('--length <n>', 'number of epochs the chain can release')
    .option('--state <file>', 'authority state file (default: ./data/gen/authority.json)')
    .action(
      action(async (options: { zone: string; length: string; state?: string }) => {
        const file = path.resolve(options.state ?? defaultAuthorityPath());
        const zone = zoneOption(options.zone);
        const length = integerOption(options.length, '--length');
        const summary = await explained(() => initAuthority(file, zone, length));
        print([
          `created authority for ${summary.zone}: ${summary.length} epochs (0..${summary.length - 1}), none released`,
          `state: ${file} (keep it secret: it holds the seed)`,
          'next: outpost gen release --zone-file FILE',
        ]);
      }),
    );

  gen
    .command('release')
    .description('release the next epoch and write its TXT record into a zone file')
    .requiredOption('--zone-file <file>', 'zone file served by "outpost dns serve --zone FILE"')
    .option('--state <file>', 'authority state file (default: ./data/gen/authority.json)')
    .action(
      action(async (options: { zoneFile: string; state?: string }) => {
        const file = path.resolve(options.state ?? defaultAuthorityPath());
        const zoneFile = path.resolve(options.zoneFile);
        const release = await explained(() => releaseNext(file, { zoneFile }));
        print([
          `released epoch ${release.epoch} of ${release.zone}`,
          genZoneFileLine(release.zone, release.epoch, release.cookie),
          `written to ${zoneFile}`,
        ]);
      }),
    );

  gen
    .command('show')
    .description("show the authority's zone, length and current release (never the seed)")
    .option('--state <file>', 'authority state file (default: ./data/gen/authority.json)')
    .action(
      action(async (options: { state?: string }) => {
        const summary = await explained(() =>
          showAuthority(path.resolve(options.state ?? defaultAuthorityPath())),
        );
        const lines = [
          `zone: ${summary.zone}`,
          `length: ${summary.length}`,
          `remaining releases: ${summary.remaining}`,
        ];
        if (summary.current === undefined) lines.push('released: none yet');
        else {
          lines.push(`released epoch: ${summary.current.epoch}`, `cookie: ${summary.current.cookie}`);
          lines.push(`record: ${summary.current.recordName} TXT "${summary.current.txt}"`);
        }
        print(lines);
      }),
    );

  gen
    .command('update')
    .description('move this server to the newest released epoch, if it hashes back to the one it has')
    .requiredOption('--zone <zone>', 'the chain this server follows')
    .option('--state <file>', "this server's generation state (default: ./data/gen/state.json)")
    .option('--server <host:port>', "DNS server to ask (default: the system's)")
    .option('--epoch <n>', 'first use only: the epoch of the starting point you trust')
    .option('--cookie <base64>', 'first use only: the cookie of that epoch')
    .option('--max-age <n>', `first use only: generations a peer may lag (default ${DEFAULT_MAX_AGE})`)
    .action(action(update));

  gen
    .command('verify <epoch> <cookie>')
    .description("check a peer's generation offer against this server's state (exit 1 on fail)")
    .requiredOption('--zone <zone>', 'the chain the peer offered')
    .option('--state <file>', "this server's generation state (default: ./data/gen/state.json)")
    .action(action(verify));
}

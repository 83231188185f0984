import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  type DkimAlgorithm,
  dkimKeyFile,
  dkimRecordName,
  dkimTxtRecord,
  generateDkimKey,
  listDkimKeys,
  normalizeDkimDomain,
  normalizeSelector,
  saveDkimKey,
  selectorsFor,
} from '../dkim/keys.js';
import { formatRecord } from '../dns/presentation.js';
import { splitCharacterStrings } from '../dns/records.js';
import { action, CliError, configLocation } from './context.js';

const ALGORITHM_CHOICES: Record<string, DkimAlgorithm[]> = {
  rsa: ['rsa-sha256'],
  ed25519: ['ed25519-sha256'],
  both: ['rsa-sha256', 'ed25519-sha256'],
};
const RECORD_TTL = 3600;

interface KeygenOptions {
  selector?: string;
  algorithm: string;
  data?: string;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function keygen(domainArgument: string, options: KeygenOptions): Promise<void> {
  const algorithms = ALGORITHM_CHOICES[options.algorithm];
  if (!algorithms)
    throw new CliError(`--algorithm: expected rsa, ed25519 or both, got "${options.algorithm}"`);
  // Library errors explain themselves; action() prints them as one line with exit code 1.
  const domain = normalizeDkimDomain(domainArgument);
  const selectors = selectorsFor(algorithms, options.selector, Date.now()).map(normalizeSelector);
  const { dataDir } = configLocation(options);
  // Refuse before making anything, so "both" never leaves one key written and the other not.
  for (const selector of selectors) {
    const file = dkimKeyFile(dataDir, domain, selector);
    if (await exists(file)) throw new CliError(`${file} already exists: choose another selector`);
  }
  const lines: string[] = [];
  for (const [index, algorithm] of algorithms.entries()) {
    const selector = selectors[index] as string;
    const key = await generateDkimKey(algorithm);
    const file = await saveDkimKey(dataDir, domain, selector, key);
    const relative = path.relative(process.cwd(), file);
    process.stdout.write(`wrote ${relative.startsWith('..') ? file : relative} (${algorithm})\n`);
    lines.push(
      formatRecord({
        name: dkimRecordName(selector, domain),
        type: 'TXT',
        ttl: RECORD_TTL,
        data: splitCharacterStrings(dkimTxtRecord(key)),
      }),
    );
  }
  process.stdout.write(
    `publish in DNS now; outpost signs with every key under ${path.join(dataDir, 'dkim')} once it (re)starts:\n`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function list(options: { data?: string }): Promise<void> {
  const { dataDir } = configLocation(options);
  const keys = await listDkimKeys(dataDir);
  if (keys.length === 0) {
    process.stdout.write(`no DKIM keys under ${path.join(dataDir, 'dkim')}\n`);
    return;
  }
  for (const key of keys) {
    process.stdout.write(
      `${key.domain}  ${key.selector}  ${key.algorithm}  ${dkimRecordName(key.selector, key.domain)}\n`,
    );
  }
}

/** Adds `dkim keygen` (make a key, print its DNS record) and `dkim list` to the CLI. */
export function registerDkimCommands(program: Command): void {
  const dkim = program.command('dkim').description('DKIM signing keys');
  dkim
    .command('keygen')
    .description('make a signing key for a domain and print the TXT record to publish')
    .argument('<domain>', 'the signing domain (d=)')
    .option('-s, --selector <selector>', 'selector (default: outpost-YYYYMM-<algorithm>)')
    .option('-a, --algorithm <algorithm>', 'rsa (2048 bits), ed25519 or both', 'both')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(action(keygen));
  dkim
    .command('list')
    .description('one line per key: domain, selector, algorithm, record name')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(action(list));
}

import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { normalizeName } from '../dns/names.js';
import {
  generateSigningKey,
  im2000DnsRecords,
  loadSigningKey,
  SIGNING_KEY_FILE,
  saveSigningKey,
} from '../im2000/keys.js';
import { DEFAULT_OUTBOX_LIMITS, messageStatus, recallMessage, storeOutgoing } from '../im2000/outbox.js';
import type { MessageStatus } from '../im2000/protocol.js';
import { IM2000_DB_FILE, Im2000Store } from '../im2000/store.js';
import { action, CliError, type LocationOptions, loadRuntimeConfig } from './context.js';

interface RecordOptions extends LocationOptions {
  host?: string;
  port: string;
  ttl: string;
}

function withLocation(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)');
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

async function withIm2000Store<T>(config: Config, work: (store: Im2000Store) => T): Promise<T> {
  const store = new Im2000Store(path.join(config.data_dir, IM2000_DB_FILE));
  try {
    return work(store);
  } finally {
    store.close();
  }
}

function printStatus(status: MessageStatus, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `${status.id}  from ${status.from}  ${status.size} bytes  created ${iso(status.createdAt)}  expires ${iso(status.expiresAt)}\n`,
  );
  for (const r of status.recipients) {
    const when = iso(r.receiptedAt ?? r.fetchedAt ?? r.notifiedAt);
    process.stdout.write(
      `  ${r.status.padEnd(9)} ${when}  attempts ${r.attempts}  ${r.address}${r.lastError ? `  (${r.lastError})` : ''}\n`,
    );
  }
}

/** The SRV and key lines for every local domain (also what `outpost dns records` should print). */
export async function im2000RecordLines(
  config: Config,
  options: { host?: string; port: number; ttl: number },
): Promise<string[]> {
  const key = await loadSigningKey(path.join(config.data_dir, SIGNING_KEY_FILE)).catch(() => {
    throw new CliError(
      `no IM2000 key in ${path.join(config.data_dir, SIGNING_KEY_FILE)} (run "outpost im2000 keygen")`,
    );
  });
  return config.domains.map(normalizeName).flatMap((domain) =>
    im2000DnsRecords({
      domain,
      postOfficeHost: options.host ?? config.hostname,
      port: options.port,
      key,
      ttl: options.ttl,
    }),
  );
}

function recordOptions(options: RecordOptions): { host?: string; port: number; ttl: number } {
  const port = Number(options.port);
  const ttl = Number(options.ttl);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError('--port: expected 1..65535');
  if (!Number.isInteger(ttl) || ttl < 0) throw new CliError('--ttl: expected a whole number of seconds');
  return { port, ttl, ...(options.host ? { host: options.host } : {}) };
}

function recordCommand(command: Command): Command {
  return withLocation(command)
    .option('--host <name>', 'post office host name in the SRV record (default: hostname from the config)')
    .option('--port <port>', 'HTTPS port of the post office', '443')
    .option('--ttl <seconds>', 'TTL of the records', '3600');
}

async function readMessage(file: string | undefined): Promise<Buffer> {
  if (file !== undefined && file !== '-') return readFile(file);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `outpost im2000 keygen|records|send|status|recall`. */
export function registerIm2000Commands(program: Command): void {
  const im2000 = program.command('im2000').description('IM2000 pull mail: keys, sending, status, recall');

  recordCommand(im2000.command('keygen'))
    .description('create the Ed25519 signing key of this post office and print the DNS records to publish')
    .option('--force', 'replace an existing key (receivers must see the new TXT record first)')
    .action(
      action(async (options: RecordOptions & { force?: boolean }) => {
        const config = await loadRuntimeConfig(options);
        const file = path.join(config.data_dir, SIGNING_KEY_FILE);
        const exists = await access(file).then(
          () => true,
          () => false,
        );
        if (exists && !options.force) throw new CliError(`${file} exists (use --force to replace it)`);
        await saveSigningKey(file, generateSigningKey());
        process.stdout.write(`; key written to ${file}\n`);
        process.stdout.write(`${(await im2000RecordLines(config, recordOptions(options))).join('\n')}\n`);
      }),
    );

  recordCommand(im2000.command('records'))
    .description('print the SRV and key TXT records of every local domain')
    .action(
      action(async (options: RecordOptions) => {
        const config = await loadRuntimeConfig(options);
        process.stdout.write(`${(await im2000RecordLines(config, recordOptions(options))).join('\n')}\n`);
      }),
    );

  withLocation(im2000.command('send'))
    .description('store a message for IM2000 pickup; the running server sends the notices')
    .requiredOption('--from <address>', 'local sender')
    .requiredOption('--to <address...>', 'recipients')
    .argument('[file]', 'the message (RFC 5322); - or none for stdin')
    .action(
      action(async (file: string | undefined, options: LocationOptions & { from: string; to: string[] }) => {
        const config = await loadRuntimeConfig(options);
        const message = await readMessage(file);
        if (message.length === 0) throw new CliError('empty message');
        const id = await withIm2000Store(config, (store) =>
          storeOutgoing(
            store,
            { from: options.from, to: options.to, message },
            { ...DEFAULT_OUTBOX_LIMITS, domains: config.domains },
            Date.now(),
          ),
        );
        process.stdout.write(`${id}\n`);
      }),
    );

  messageCommand(
    im2000,
    'status',
    'per-recipient status of a message: pending, notified, fetched, receipted, refused, smtp, expired, recalled',
    messageStatus,
  );
  messageCommand(
    im2000,
    'recall',
    'recall a message from every recipient that has not fetched it yet',
    recallMessage,
  );
}

/** A command that does one thing to one stored message and prints its per-recipient status. */
function messageCommand(
  im2000: Command,
  name: string,
  description: string,
  operation: (store: Im2000Store, id: string) => MessageStatus,
): void {
  withLocation(im2000.command(name))
    .description(description)
    .argument('<id>', 'message id')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, options: LocationOptions & { json?: boolean }) => {
        const config = await loadRuntimeConfig(options);
        printStatus(await withIm2000Store(config, (store) => operation(store, id)), options.json === true);
      }),
    );
}

// `outpost sendmail` and `outpost mailq`: the command line that programs expect of a mail server.
// A message is queued in the data directory's store as the OS user who ran the command; a running
// server picks it up on its next queue poll.
import type { Command } from 'commander';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { describeError, type ErrorCode, isOutpostError } from '../core/errors.js';
import { LocalRecipients } from '../inbound/recipients.js';
import { formatMailq, mailqEntries } from '../local/mailq.js';
import { cutAtLoneDot, takeHeaderRecipients, toCrlf } from '../local/message.js';
import { runStdioSmtp } from '../local/smtp-stdio.js';
import {
  currentLocalUser,
  defaultSender,
  type LocalSubmitDeps,
  routeLocalRecipient,
  submitLocal,
} from '../local/submit.js';
import { openSqliteStore } from '../queue/store/sqlite/index.js';
import type { Store } from '../queue/store/types.js';
import { dataLayout } from '../server/outpost.js';
import { action, CliError, type LocationOptions, loadRuntimeConfig } from './context.js';
import { readStdin } from './store.js';

interface SendmailOptions extends LocationOptions {
  readRecipients?: boolean;
  from?: string;
  fullname?: string;
  ignoreDots?: boolean;
  /** -o<option>, repeatable: sendmail's -oX options. */
  o: string[];
  /** -b<mode>. */
  b?: string;
  /** -r: older spelling of -f. */
  r?: string;
  verbose?: boolean;
}

// sysexits.h, which programs calling sendmail look at.
const EX_USAGE = 64;
const EX_DATAERR = 65;
const EX_NOUSER = 67;
const EX_SOFTWARE = 70;
const EX_TEMPFAIL = 75;
const EX_CONFIG = 78;

const EXIT_FOR: Partial<Record<ErrorCode, number>> = {
  BAD_ADDRESS: EX_DATAERR,
  SMTPUTF8_REQUIRED: EX_DATAERR,
  BAD_REQUEST: EX_USAGE,
  NO_SUCH_USER: EX_NOUSER,
  QUEUE_UNAVAILABLE: EX_TEMPFAIL,
  DISK_FULL: EX_TEMPFAIL,
};

function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return EX_USAGE;
  if (error instanceof ConfigError) return EX_CONFIG;
  if (isOutpostError(error)) return EXIT_FOR[error.code] ?? EX_SOFTWARE;
  return EX_SOFTWARE;
}

/** Like action(), with the exit codes of sendmail (sysexits) instead of 1. */
function sendmailAction<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      process.exitCode = exitCodeFor(error);
      process.stderr.write(`outpost sendmail: ${describeError(error)}\n`);
    }
  };
}

async function withQueue<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const layout = dataLayout(config);
  const store = await openSqliteStore({
    path: layout.database,
    bodiesDir: layout.bodies,
    inlineBodyMax: config.queue.inline_body_max,
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function submitDeps(config: Config, store: Store): LocalSubmitDeps {
  return {
    store,
    recipients: new LocalRecipients(new Set(config.domains.map((d) => d.toLowerCase())), store),
    hostname: config.hostname,
    defaultDomain: config.domains[0]?.toLowerCase() ?? config.hostname,
  };
}

/** The biggest message -bs takes: that of the largest listener, or the listeners' default. */
function messageSizeLimit(config: Config): number {
  const sizes = config.listeners.map((l) => l.max_message_size);
  return sizes.length > 0 ? Math.max(...sizes) : 25 * 1024 * 1024;
}

async function submitFromStdin(
  config: Config,
  store: Store,
  args: string[],
  options: SendmailOptions,
): Promise<void> {
  const deps = submitDeps(config, store);
  const user = currentLocalUser();
  const ignoreDots = options.ignoreDots === true || options.o.includes('i');
  let message = toCrlf(await readStdin());
  if (!ignoreDots) message = cutAtLoneDot(message);
  let recipients = args;
  if (options.readRecipients === true) {
    const taken = takeHeaderRecipients(message);
    message = taken.message;
    recipients = [...args, ...taken.recipients];
  }
  if (recipients.length === 0) throw new CliError('no recipients (give them as arguments, or -t)');
  const queued = await submitLocal(deps, {
    user,
    sender: options.from ?? defaultSender(user, deps.defaultDomain),
    recipients,
    message,
    ...(options.fullname === undefined ? {} : { fullName: options.fullname }),
    via: 'sendmail',
  });
  if (options.verbose === true) process.stderr.write(`queued as ${queued.id}\n`);
}

async function speakSmtp(config: Config, store: Store): Promise<void> {
  const deps = submitDeps(config, store);
  const user = currentLocalUser();
  await runStdioSmtp({
    hostname: config.hostname,
    input: process.stdin,
    output: process.stdout,
    maxMessageSize: messageSizeLimit(config),
    checkRecipient: async (address) => {
      await routeLocalRecipient(deps, address);
      return undefined;
    },
    submit: async (tx) => {
      const queued = await submitLocal(deps, { user, ...tx, via: 'sendmail -bs' });
      return { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${queued.id}` };
    },
  });
}

async function printMailq(config: Config): Promise<void> {
  const listing = await withQueue(config, async (store) => formatMailq(await mailqEntries(store)));
  process.stdout.write(listing);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `outpost sendmail [options] [recipient...]` and `outpost mailq`. */
export function registerSendmailCommands(program: Command): void {
  program
    .command('sendmail')
    .description('queue a message from standard input, as the sendmail command does (local submission)')
    .argument('[recipients...]', 'recipient addresses ("alice" means alice at our first domain)')
    .option('-t, --read-recipients', 'take recipients from To, Cc and Bcc too (Bcc is removed)')
    .option(
      '-f, --from <sender>',
      'envelope sender (default: your user name at our first domain; "<>" for none)',
    )
    .option('-r <sender>', 'same as -f (older spelling)')
    .option('-F, --fullname <name>', 'your full name, for the From: field added when the message has none')
    .option('-i, --ignore-dots', 'a line holding only "." does not end the message')
    .option(
      '-o <option>',
      'sendmail option: -oi is -i; others (-oem, -odi...) are accepted and ignored',
      collect,
      [],
    )
    .option(
      '-b <mode>',
      'mode: -bm queue a message (default), -bs speak SMTP on stdin/stdout, -bp list the queue',
    )
    .option('-v, --verbose', 'print the queue id on stderr')
    .option('-C, --config <file>', 'config file')
    .option('--data <dir>', 'data directory (default: ./data)')
    .action(
      sendmailAction(async (args: string[], raw: SendmailOptions) => {
        const from = raw.from ?? raw.r;
        const options: SendmailOptions = {
          ...raw,
          ...(from === undefined ? {} : { from: from === '<>' ? '' : from }),
        };
        const mode = raw.b ?? 'm';
        if (!['m', 's', 'p'].includes(mode)) throw new CliError(`-b${mode}: expected -bm, -bs or -bp`);
        const config = await loadRuntimeConfig(options);
        if (mode === 'p') return printMailq(config);
        await withQueue(config, (store) =>
          mode === 's' ? speakSmtp(config, store) : submitFromStdin(config, store, args, options),
        );
      }),
    );

  program
    .command('mailq')
    .description('list the messages waiting in the queue, as Postfix mailq does')
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(action(async (options: LocationOptions) => printMailq(await loadRuntimeConfig(options))));
}

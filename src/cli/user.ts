import type { Command } from 'commander';
import { domainOf, parseAddress } from '../core/address.js';
import { hashPassword } from '../core/password.js';
import { ensureMailbox } from '../delivery/maildir/index.js';
import { parseAliases } from '../inbound/submission.js';
import type { Store, User } from '../queue/store/types.js';
import { dataLayout } from '../server/outpost.js';
import { action, CliError } from './context.js';
import { readStdin, withStore } from './store.js';

interface StoreOptions {
  config?: string;
  data?: string;
}

function withLocation(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)');
}

/** Reads a password from standard input (one line, its line ending dropped) and checks its length. */
async function readPassword(): Promise<string> {
  const password = (await readStdin()).toString('utf8').replace(/\r?\n$/, '');
  if (password.length < 8) throw new CliError('password: at least 8 characters');
  return password;
}

/** A command-line address as stored: local part and domain lower-cased. */
function normalizeAddress(text: string): string {
  const parsed = parseAddress(text);
  if (!parsed) throw new CliError(`"${text}" is not an address like alice@example.org`);
  return `${parsed.local.toLowerCase()}@${parsed.domain}`;
}

async function requireUser(store: Store, address: string): Promise<User> {
  const user = await store.getUser(address);
  if (!user) throw new CliError(`${address}: no such mailbox`);
  return user;
}

/** Who already sends as `alias`, other than `owner`: a mailbox of that name or another user's alias. */
async function otherOwnerOf(store: Store, alias: string, owner: string): Promise<string | undefined> {
  for (const user of await store.listUsers()) {
    if (user.address === owner) continue;
    if (user.address === alias || parseAliases(user.settings.aliases).includes(alias)) return user.address;
  }
  return undefined;
}

/** Stores the aliases setting; an empty list removes it. */
async function saveAliases(store: Store, user: User, aliases: readonly string[]): Promise<void> {
  const { aliases: _old, ...settings } = user.settings;
  await store.updateUser(user.address, {
    settings: aliases.length > 0 ? { ...settings, aliases: aliases.join(',') } : settings,
  });
}

/** `outpost user add|passwd|list|remove` and `outpost user alias add|remove`: local mailboxes. */
export function registerUserCommands(program: Command): Command {
  const user = program.command('user').description('manage local mailboxes');

  withLocation(user.command('add <address>'))
    .description('add a mailbox (and its Maildir); --password-stdin sets a password for submission')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      action(async (address: string, options: StoreOptions & { passwordStdin?: boolean }) => {
        const normalized = normalizeAddress(address);
        const password = options.passwordStdin ? await readPassword() : undefined;
        await withStore(options, async (store, config) => {
          if (!config.domains.includes(domainOf(normalized))) {
            throw new CliError(
              `${normalized}: domain is not one of ours (domains = [${config.domains.join(', ')}])`,
            );
          }
          if (await store.getUser(normalized)) throw new CliError(`${normalized} exists already`);
          await ensureMailbox(dataLayout(config).mail, normalized);
          await store.addUser({
            address: normalized,
            ...(password === undefined ? {} : { passwordHash: await hashPassword(password) }),
            settings: {},
            createdAt: Date.now(),
          });
          process.stdout.write(`added ${normalized}\n`);
        });
      }),
    );

  withLocation(user.command('list'))
    .description('list mailboxes')
    .action(
      action(async (options: StoreOptions) => {
        await withStore(options, async (store) => {
          for (const u of await store.listUsers()) {
            const settings = Object.entries(u.settings)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ');
            process.stdout.write(
              `${u.address}${u.passwordHash ? ' (password)' : ''}${settings ? ` ${settings}` : ''}\n`,
            );
          }
        });
      }),
    );

  withLocation(user.command('remove <address>'))
    .description('remove a mailbox (its Maildir stays on disk)')
    .action(
      action(async (address: string, options: StoreOptions) => {
        await withStore(options, async (store) => {
          if (!(await store.removeUser(address.toLowerCase())))
            throw new CliError(`${address}: no such mailbox`);
          process.stdout.write(`removed ${address.toLowerCase()}\n`);
        });
      }),
    );

  withLocation(user.command('passwd <address>'))
    .description('set or change the submission password (read from standard input)')
    .action(
      action(async (address: string, options: StoreOptions) => {
        const normalized = normalizeAddress(address);
        const password = await readPassword();
        await withStore(options, async (store) => {
          await requireUser(store, normalized);
          await store.updateUser(normalized, { passwordHash: await hashPassword(password) });
          process.stdout.write(`password set for ${normalized}\n`);
        });
      }),
    );

  const alias = user.command('alias').description('addresses a user may also send as (submission)');

  withLocation(alias.command('add <address> <alias>'))
    .description('let the user send as another address too (MAIL FROM and From:)')
    .action(
      action(async (address: string, aliasText: string, options: StoreOptions) => {
        const owner = normalizeAddress(address);
        const added = normalizeAddress(aliasText);
        if (added === owner) throw new CliError(`${added} is the user's own address`);
        await withStore(options, async (store) => {
          const found = await requireUser(store, owner);
          const other = await otherOwnerOf(store, added, owner);
          if (other !== undefined) throw new CliError(`${added}: ${other} sends as it already`);
          const aliases = parseAliases(found.settings.aliases);
          if (aliases.includes(added)) throw new CliError(`${owner} has the alias ${added} already`);
          await saveAliases(store, found, [...aliases, added]);
          process.stdout.write(`${owner} may send as ${added}\n`);
        });
      }),
    );

  withLocation(alias.command('remove <address> <alias>'))
    .description('remove an alias')
    .action(
      action(async (address: string, aliasText: string, options: StoreOptions) => {
        const owner = normalizeAddress(address);
        const removed = normalizeAddress(aliasText);
        await withStore(options, async (store) => {
          const found = await requireUser(store, owner);
          const aliases = parseAliases(found.settings.aliases);
          if (!aliases.includes(removed)) throw new CliError(`${owner} has no alias ${removed}`);
          await saveAliases(
            store,
            found,
            aliases.filter((entry) => entry !== removed),
          );
          process.stdout.write(`${owner} no longer sends as ${removed}\n`);
        });
      }),
    );
  return user;
}

import type { Command } from 'commander';
import { domainOf, parseAddress } from '../core/address.js';
import { hashPassword } from '../core/password.js';
import { ensureMailbox } from '../delivery/maildir/index.js';
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

/** `outpost user add|list|remove`: local mailboxes. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage local mailboxes');

  withLocation(user.command('add <address>'))
    .description('add a mailbox (and its Maildir); --password-stdin sets a password for submission')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      action(async (address: string, options: StoreOptions & { passwordStdin?: boolean }) => {
        const parsed = parseAddress(address);
        if (!parsed) throw new CliError(`"${address}" is not an address like alice@example.org`);
        const normalized = `${parsed.local.toLowerCase()}@${parsed.domain}`;
        const password = options.passwordStdin
          ? (await readStdin()).toString('utf8').replace(/\r?\n$/, '')
          : undefined;
        if (password !== undefined && password.length < 8)
          throw new CliError('password: at least 8 characters');
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
}

import type { Command } from 'commander';
import { AliasError, addAlias, listAliases, removeAlias } from '../forward/admin.js';
import type { ForwardRule } from '../forward/aliases.js';
import { action, CliError, type LocationOptions } from './context.js';
import { withStore } from './store.js';

function withLocation(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)');
}

/** Runs an alias operation, turning the operator's mistakes into one-line CLI errors. */
async function asCli<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof AliasError) throw new CliError(error.message);
    throw error;
  }
}

function describeRule(address: string, rule: ForwardRule): string {
  return `${address} -> ${rule.targets.join(', ')}${rule.keep ? ' (keeps a copy)' : ''}`;
}

/** `outpost alias add|remove|list`: local addresses that forward mail on (SRS and ARC, docs/reference/forwarding.md). */
export function registerAliasCommands(program: Command): Command {
  const alias = program.command('alias').description('forwarding aliases: local addresses that send mail on');

  withLocation(alias.command('add <local> <targets...>'))
    .description('forward mail for a local address to other addresses (made an alias when it is no mailbox)')
    .option('--keep', 'also deliver to the local mailbox (the address must be a mailbox)')
    .action(
      action(async (local: string, targets: string[], options: LocationOptions & { keep?: boolean }) => {
        await withStore(options, async (store, config) => {
          const rule = await asCli(() =>
            addAlias(store, config.domains, local, targets, options.keep === true),
          );
          process.stdout.write(`${describeRule(local.toLowerCase(), rule)}\n`);
        });
      }),
    );

  withLocation(alias.command('remove <local> [targets...]'))
    .description('stop forwarding to the targets named (all when none are named)')
    .action(
      action(async (local: string, targets: string[], options: LocationOptions) => {
        await withStore(options, async (store) => {
          const left = await asCli(() => removeAlias(store, local, targets));
          process.stdout.write(
            left === undefined
              ? `${local.toLowerCase()} forwards nowhere now\n`
              : `${describeRule(local.toLowerCase(), left)}\n`,
          );
        });
      }),
    );

  withLocation(alias.command('list'))
    .description('list the addresses that forward, and where to')
    .action(
      action(async (options: LocationOptions) => {
        await withStore(options, async (store) => {
          for (const { address, rule } of await listAliases(store)) {
            process.stdout.write(`${describeRule(address, rule)}\n`);
          }
        });
      }),
    );
  return alias;
}

import type { Command } from 'commander';
import { action, loadRuntimeConfig } from './context.js';

/** `outpost config check`: validates the config and prints a summary. */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the config file; errors name the file and key path')
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (options: { config?: string; data?: string }) => {
        const loaded = await loadRuntimeConfig(options);
        process.stdout.write(
          `config ok: hostname ${loaded.hostname}, domains ${loaded.domains.join(', ')}, ` +
            `${loaded.listeners.length} listener(s): ${loaded.listeners.map((l) => `${l.name}@${l.address}`).join(', ')}\n`,
        );
      }),
    );
}

import type { Command } from 'commander';
import { ConfigError } from '../config/load.js';
import { describeError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { type RunningOutpost, startOutpost } from '../server/outpost.js';
import { action, configLocation, initConfig, loadRuntimeConfig } from './context.js';

interface ServeOptions {
  config?: string;
  data?: string;
}

/** `outpost serve` and `outpost init`. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('run the post office (creates the data folder, config and TLS certificate on first run)')
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(action(serve));

  program
    .command('init')
    .description('write a default config into the data directory')
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (options: ServeOptions) => {
        const { file } = configLocation(options);
        const wrote = await initConfig(file);
        process.stdout.write(wrote ? `wrote ${file}\n` : `${file} exists, left unchanged\n`);
      }),
    );
}

async function serve(options: ServeOptions): Promise<void> {
  const config = await loadRuntimeConfig({ ...options, create: true });
  const logger = createLogger(config.log_level);
  const outpost = await startOutpost(config, logger);
  // Handlers first: whoever reads "listening" may signal at once (an init system, a test).
  installSignals(outpost, options);
  process.stdout.write(`outpost ${config.hostname}: data in ${config.data_dir}\n`);
  for (const l of outpost.listening) {
    const host = l.address.includes(':') ? `[${l.address}]` : l.address;
    const what = l.kind === 'smtp' ? `SMTP (${l.profile})` : 'HTTP API';
    process.stdout.write(`listening: ${what.padEnd(20)} ${host}:${l.port}  ${l.name}\n`);
  }
}

function installSignals(outpost: RunningOutpost, options: ServeOptions): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: finishing open transactions and stopping\n`);
    outpost.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`outpost: stop failed: ${describeError(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    loadRuntimeConfig(options).then(
      (config) => {
        try {
          outpost.reload(config);
          process.stdout.write('SIGHUP: configuration reloaded\n');
        } catch (error) {
          process.stderr.write(
            `outpost: SIGHUP: config not reloaded, keeping the running one:\n${describeError(error)}\n`,
          );
        }
      },
      (error: unknown) => {
        const text = error instanceof ConfigError ? error.message : describeError(error);
        process.stderr.write(`outpost: SIGHUP: config not reloaded, keeping the running one:\n${text}\n`);
      },
    );
  });
}

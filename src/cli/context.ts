import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfigText } from '../config/defaults.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { describeError, isOutpostError } from '../core/errors.js';

/** An error meant for the operator: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export interface LocationOptions {
  config?: string;
  data?: string;
}

/** The config file: --config, else <data>/outpost.toml, with --data (or ./data) as the data dir. */
export function configLocation(options: LocationOptions): { file: string; dataDir: string } {
  const dataDir = path.resolve(options.data ?? process.env.OUTPOST_DATA_DIR ?? './data');
  const file = path.resolve(options.config ?? path.join(dataDir, 'outpost.toml'));
  return { file, dataDir };
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Writes the default config unless one exists; returns whether it wrote. */
export async function initConfig(file: string): Promise<boolean> {
  if (await fileExists(file)) return false;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, defaultConfigText(), { mode: 0o600, flag: 'wx' });
  return true;
}

/**
 * Loads the config for a command. --data (or OUTPOST_DATA_DIR) wins over the file's data_dir,
 * which is relative to the config file's folder.
 */
export async function loadRuntimeConfig(options: LocationOptions & { create?: boolean }): Promise<Config> {
  const { file, dataDir } = configLocation(options);
  if (options.create) await initConfig(file);
  else if (!(await fileExists(file))) {
    throw new CliError(`${file}: no config file (run "outpost init --data ${dataDir}" or "outpost serve")`);
  }
  const config = await loadConfig(file);
  const explicitData = options.data ?? process.env.OUTPOST_DATA_DIR;
  config.data_dir = explicitData
    ? path.resolve(explicitData)
    : path.resolve(path.dirname(file), config.data_dir);
  return config;
}

/** Wraps a command action: known errors become one line on stderr and exit code 1, never a stack. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      process.exitCode = 1;
      if (error instanceof CliError || error instanceof ConfigError) {
        process.stderr.write(`outpost: ${error.message}\n`);
      } else if (isOutpostError(error)) {
        process.stderr.write(`outpost: ${error.code}: ${error.message}\n`);
      } else {
        process.stderr.write(`outpost: ${describeError(error)}\n`);
      }
    }
  };
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { isOutpostError } from '../core/errors.js';
import { compileChecks } from '../pipeline/config.js';
import { type Config, configSchema } from './schema.js';

/** A configuration problem, already phrased for the operator: file, key path, what was expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Formats a zod issue path the way operators write keys: listeners[1].checks[0].use */
export function formatKeyPath(keyPath: readonly PropertyKey[]): string {
  let out = '';
  for (const part of keyPath) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(top level)';
}

function describeIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const message =
        issue.code === 'unrecognized_keys'
          ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
          : issue.message;
      return `${file}: ${formatKeyPath(issue.path)}: ${message}`;
    })
    .join('\n');
}

/** Environment overrides for the values an operator most often changes per machine. */
export function applyEnvironment(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  if (env.OUTPOST_DATA_DIR) out.data_dir = env.OUTPOST_DATA_DIR;
  if (env.OUTPOST_HOSTNAME) out.hostname = env.OUTPOST_HOSTNAME;
  if (env.OUTPOST_HTTP_PORT) {
    const http = { ...((out.http as Record<string, unknown> | undefined) ?? {}) };
    http.address = replacePort(String(http.address ?? '127.0.0.1:8025'), env.OUTPOST_HTTP_PORT);
    out.http = http;
  }
  if (Array.isArray(out.listeners)) {
    out.listeners = out.listeners.map((listener: unknown) => {
      if (typeof listener !== 'object' || listener === null) return listener;
      const entry = listener as Record<string, unknown>;
      const name = String(entry.name ?? '')
        .toUpperCase()
        .replaceAll('-', '_');
      const port = env[`OUTPOST_${name}_PORT`];
      return port && typeof entry.address === 'string'
        ? { ...entry, address: replacePort(entry.address, port) }
        : entry;
    });
  }
  return out;
}

function replacePort(address: string, port: string): string {
  return `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
}

/** Validates parsed TOML (or any object) into a Config; errors name the file and key path. */
export function parseConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const withEnv = applyEnvironment((raw ?? {}) as Record<string, unknown>, env);
  const result = configSchema.safeParse(withEnv);
  if (!result.success) throw new ConfigError(describeIssues(file, result.error));
  const config = result.data;
  const names = new Set<string>();
  config.listeners.forEach((listener, index) => {
    if (names.has(listener.name)) {
      throw new ConfigError(`${file}: listeners[${index}].name: duplicate listener name "${listener.name}"`);
    }
    names.add(listener.name);
    try {
      compileChecks(listener.checks);
    } catch (error) {
      if (isOutpostError(error))
        throw new ConfigError(`${file}: listeners[${index}].${error.detail ?? error.message}`);
      throw error;
    }
  });
  return config;
}

/** Reads and validates a TOML config file. Relative paths in it are relative to data_dir. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: cannot read config file (${code ?? String(error)})`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(
        `${file}:${error.line}:${error.column}: TOML syntax error: ${error.message.split('\n')[0]}`,
      );
    }
    throw new ConfigError(`${file}: TOML syntax error: ${String(error)}`);
  }
  return parseConfig(raw, file, env);
}

/** Resolves a path from the config against the data directory. */
export function dataPath(config: Config, relative: string): string {
  return path.resolve(config.data_dir, relative);
}

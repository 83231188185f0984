import type { Command } from 'commander';
import { isUntrustedChoice, UNTRUSTED_CHOICES, UNTRUSTED_SETTING } from '../inbound/untrusted.js';
import { action, CliError, type LocationOptions } from './context.js';
import { withStore } from './store.js';

/** The settings `user set` knows, each with a check of its value. */
const SETTINGS: Readonly<Record<string, { valid(value: string): boolean; expected: string }>> = {
  [UNTRUSTED_SETTING]: { valid: isUntrustedChoice, expected: UNTRUSTED_CHOICES.join('|') },
};

/** Parses "key=value" words into settings, naming the first bad one. */
export function parseUserSettings(words: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const word of words) {
    const at = word.indexOf('=');
    const key = at < 0 ? word : word.slice(0, at);
    const known = SETTINGS[key];
    if (known === undefined) {
      throw new CliError(`unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(', ')})`);
    }
    const value = at < 0 ? '' : word.slice(at + 1);
    if (!known.valid(value)) throw new CliError(`${key}: expected ${known.expected}, got "${value}"`);
    settings[key] = value;
  }
  return settings;
}

/** `outpost user set ADDRESS key=value...`: per-user settings, e.g. untrusted=junk|inbox|refuse. */
export function registerUserSetCommand(userCommand: Command): void {
  userCommand
    .command('set <address> <settings...>')
    .description(`change a mailbox's settings: ${UNTRUSTED_SETTING}=${UNTRUSTED_CHOICES.join('|')}`)
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (address: string, words: string[], options: LocationOptions) => {
        const changes = parseUserSettings(words);
        const normalized = address.toLowerCase();
        await withStore(options, async (store) => {
          const user = await store.getUser(normalized);
          if (user === undefined) throw new CliError(`${normalized}: no such mailbox`);
          const settings = { ...user.settings, ...changes };
          await store.updateUser(normalized, { settings });
          const shown = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
          process.stdout.write(`${normalized} ${shown.join(' ')}\n`);
        });
      }),
    );
}

import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { parseDuration } from '../config/units.js';
import { describeError } from '../core/errors.js';
import { folderPath } from '../delivery/maildir/index.js';
import { followFeedOnce } from '../im2000/follow.js';
import { IM2000_DB_FILE, Im2000Store } from '../im2000/store.js';
import { action, CliError, type LocationOptions, loadRuntimeConfig } from './context.js';

interface FollowCommandOptions extends LocationOptions {
  into: string;
  interval: string;
  once?: boolean;
}

/** `outpost feed follow URL --into MAILBOX`: a feed instead of a list subscription. */
export function registerFeedCommands(program: Command): void {
  const feed = program.command('feed').description('public archives as feeds');
  feed
    .command('follow')
    .description('poll an Atom or JSON feed and store each new item in a Maildir (each item once)')
    .argument('<url>', 'feed URL')
    .requiredOption('--into <mailbox>', 'local mailbox address to store items in')
    .option('--interval <duration>', 'time between polls', '15m')
    .option('--once', 'poll once and exit')
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (url: string, options: FollowCommandOptions) => {
        const config = await loadRuntimeConfig(options);
        const mailRoot = path.join(config.data_dir, 'mail');
        if (folderPath(mailRoot, options.into) === undefined)
          throw new CliError(`--into: bad mailbox ${options.into}`);
        const intervalMs = parseDuration(options.interval);
        if (intervalMs === undefined || intervalMs < 1000)
          throw new CliError('--interval: expected a duration of 1s or more');
        const store = new Im2000Store(path.join(config.data_dir, IM2000_DB_FILE));
        try {
          for (;;) {
            try {
              const added = await followFeedOnce({
                url,
                into: options.into,
                mailRoot,
                store,
                hostname: config.hostname,
              });
              process.stdout.write(`${new Date().toISOString()} ${url}: ${added} new\n`);
            } catch (error) {
              if (options.once) throw error;
              process.stderr.write(`outpost: ${url}: ${describeError(error)} (trying again later)\n`);
            }
            if (options.once) return;
            await sleep(intervalMs);
          }
        } finally {
          store.close();
        }
      }),
    );
}

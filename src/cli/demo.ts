import type { Command } from 'commander';
import { parseDuration } from '../config/units.js';
import { printHowToLook, runDemo } from '../demo/run.js';
import { action, CliError } from './context.js';

interface DemoCommandOptions {
  check?: boolean;
  timeout: string;
  stepTimeout: string;
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function durationOption(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new CliError(`${name}: expected a duration like "30s", got "${text}"`);
  return ms;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => resolve(signal);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** `outpost demo [--check]`: the fake internet in one process, with mail flowing through it. */
export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'start a fake internet on loopback (DNS, alice, bob and carol post offices) and show mail flowing; ' +
        '--check runs it unattended and exits non-zero naming the step that failed',
    )
    .option('--check', 'verify every outcome, stop, and exit 0 (all seen) or 1')
    .option('--timeout <duration>', 'with --check: the whole run must end within this', '180s')
    .option('--step-timeout <duration>', 'time each step has to show its outcome', '30s')
    .action(
      action(async (options: DemoCommandOptions) => {
        const timeoutMs = durationOption('--timeout', options.timeout);
        const stepTimeoutMs = durationOption('--step-timeout', options.stepTimeout);
        // A hung server must not hang the check: past the timeout the process ends, whatever runs.
        const watchdog = options.check
          ? setTimeout(() => {
              process.stderr.write(`outpost: demo --check did not finish within ${options.timeout}\n`);
              process.exit(2);
            }, timeoutMs)
          : undefined;
        watchdog?.unref();
        const { world, failures } = await runDemo({ print, stepTimeoutMs });
        try {
          if (options.check) {
            if (failures.length > 0) throw new CliError(`demo check failed:\n  ${failures.join('\n  ')}`);
            print('\ndemo check: every step showed its expected outcome');
            return;
          }
          printHowToLook(world, print);
          await untilSignal();
          print('stopping ...');
        } finally {
          clearTimeout(watchdog);
          await world.stop();
        }
      }),
    );
}

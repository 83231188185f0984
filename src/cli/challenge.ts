import type { Command } from 'commander';
import { ChallengeService } from '../challenge/service.js';
import type { AddressRequest } from '../challenge/tagged.js';
import { dataPath } from '../config/load.js';
import { parseDuration } from '../config/units.js';
import { action, CliError, type LocationOptions } from './context.js';
import { withStore } from './store.js';

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function print(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Opens the queue store and the challenge database of a data directory for one command. */
async function withChallenges(
  options: LocationOptions,
  fn: (service: ChallengeService) => Promise<void>,
): Promise<void> {
  await withStore(options, async (store, config) => {
    const service = new ChallengeService({
      store,
      file: dataPath(config, 'challenge.db'),
      hostname: config.hostname,
    });
    try {
      await fn(service);
    } finally {
      service.close();
    }
  });
}

function withLocation(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default: <data>/outpost.toml)')
    .option('-d, --data <dir>', 'data directory (default: ./data)');
}

function pendingId(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 1)
    throw new CliError(`"${text}" is not a held message id (see "challenge list")`);
  return id;
}

/** Reads `dated 5d | sender ADDRESS | keyword WORD` into an address request. */
function addressRequest(kind: string, value: string, now: number): AddressRequest {
  switch (kind) {
    case 'dated': {
      const lifetime = parseDuration(value);
      if (lifetime === undefined || lifetime < 1000) {
        throw new CliError(`dated: "${value}" is not a duration like 5d, 12h or 30m`);
      }
      return { kind: 'dated', expiresAt: now + lifetime };
    }
    case 'sender':
      if (!value.includes('.')) throw new CliError(`sender: "${value}" is not an address or domain`);
      return { kind: 'sender', sender: value };
    case 'keyword':
      if (value.trim() === '') throw new CliError('keyword: give a word');
      return { kind: 'keyword', keyword: value };
    default:
      throw new CliError(`"${kind}": expected dated, sender or keyword`);
  }
}

/** `outpost challenge list|release|discard|whitelist|address|enable|disable`. */
export function registerChallengeCommands(program: Command): void {
  const challenge = program
    .command('challenge')
    .description('challenge/response: messages held for unknown senders, whitelists, tagged addresses');

  withLocation(challenge.command('list'))
    .description('held messages waiting for their sender: id, queue id, user, sender, held since, expiry')
    .option('-u, --user <address>', 'only this mailbox')
    .option('-n, --limit <n>', 'at most n entries', '100')
    .action(
      action(async (options: LocationOptions & { user?: string; limit: string }) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError('--limit: expected a positive whole number');
        await withChallenges(options, async (service) => {
          const entries = service.listPending({ limit, ...(options.user ? { user: options.user } : {}) });
          for (const e of entries) {
            print([
              `${String(e.id).padStart(5)}  ${e.queueId}  ${e.user}  <${e.sender}>  held ${iso(e.createdAt)}` +
                `  expires ${iso(e.expiresAt)}${e.challenged ? '' : '  (no challenge: daily limit)'}` +
                `${e.subject ? `  "${e.subject}"` : ''}`,
            ]);
          }
          if (entries.length === 0) print(['no held messages']);
        });
      }),
    );

  withLocation(challenge.command('release <id>'))
    .description('deliver a held message without waiting for its sender')
    .option('-w, --whitelist', "also put the sender on the user's whitelist")
    .action(
      action(async (id: string, options: LocationOptions & { whitelist?: boolean }) => {
        await withChallenges(options, async (service) => {
          const released = await service.release(pendingId(id), { whitelist: options.whitelist === true });
          if (!released) throw new CliError(`${id}: no held message waiting with that id`);
          print([`released ${id} (queue id ${released.queueId}, ${released.recipients} recipient(s))`]);
        });
      }),
    );

  withLocation(challenge.command('discard <id>'))
    .description('drop a held message (no bounce is sent)')
    .action(
      action(async (id: string, options: LocationOptions) => {
        await withChallenges(options, async (service) => {
          if (!(await service.discard(pendingId(id), 'discarded with the CLI'))) {
            throw new CliError(`${id}: no held message waiting with that id`);
          }
          print([`discarded ${id}`]);
        });
      }),
    );

  const whitelist = challenge
    .command('whitelist')
    .description('senders (addresses or domains) a mailbox accepts without a challenge');

  withLocation(whitelist.command('add <sender>'))
    .requiredOption('-u, --user <address>', 'the mailbox')
    .description('accept mail from an address, or from a domain and its subdomains')
    .action(
      action(async (sender: string, options: LocationOptions & { user: string }) => {
        const { user } = options;
        await withChallenges(options, async (service) => {
          service.addToWhitelist(user, sender, 'operator');
          print([`${user}: whitelisted ${sender.toLowerCase()}`]);
        });
      }),
    );

  withLocation(whitelist.command('remove <sender>'))
    .requiredOption('-u, --user <address>', 'the mailbox')
    .description('take an entry off the whitelist')
    .action(
      action(async (sender: string, options: LocationOptions & { user: string }) => {
        const { user } = options;
        await withChallenges(options, async (service) => {
          if (!service.removeFromWhitelist(user, sender)) {
            throw new CliError(`${sender} is not on the whitelist of ${user}`);
          }
          print([`${user}: removed ${sender.toLowerCase()}`]);
        });
      }),
    );

  withLocation(whitelist.command('list'))
    .requiredOption('-u, --user <address>', 'the mailbox')
    .description("a mailbox's whitelist: entry, when added, and how (confirm or operator)")
    .action(
      action(async (options: LocationOptions & { user: string }) => {
        const { user } = options;
        await withChallenges(options, async (service) => {
          const entries = service.whitelist(user);
          for (const e of entries) print([`${e.entry}  ${iso(e.addedAt)}  ${e.source}`]);
          if (entries.length === 0) print([`${user}: whitelist is empty`]);
        });
      }),
    );

  withLocation(challenge.command('address <kind> <value>'))
    .description('a tagged address that skips the challenge: dated 5d | sender ADDRESS | keyword WORD')
    .requiredOption('-u, --user <address>', 'the mailbox the address delivers to')
    .action(
      action(async (kind: string, value: string, options: LocationOptions & { user: string }) => {
        const request = addressRequest(kind, value, Date.now());
        await withChallenges(options, async (service) => {
          print([service.address(options.user, request)]);
          if (request.kind === 'dated') print([`valid until ${iso(request.expiresAt)}`]);
        });
      }),
    );

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withLocation(challenge.command(name))
      .requiredOption('-u, --user <address>', 'the mailbox')
      .description(`${enabled ? 'hold' : 'stop holding'} mail from unknown senders to this mailbox`)
      .action(
        action(async (options: LocationOptions & { user: string }) => {
          const { user } = options;
          await withChallenges(options, async (service) => {
            if (!(await service.setEnabled(user, enabled))) throw new CliError(`${user}: no such mailbox`);
            print([`${user.toLowerCase()}: challenge/response ${enabled ? 'on' : 'off'}`]);
          });
        }),
      );
  }
}

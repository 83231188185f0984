import type { Command } from 'commander';
import { applyQueueAction, flushQueue, type QueueAction, removeMessage } from '../queue/operations.js';
import { RECIPIENT_STATUSES, type RecipientStatus } from '../queue/store/types.js';
import { action, CliError, type LocationOptions } from './context.js';
import { withStore } from './store.js';

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

const ACTION_DESCRIPTIONS: Record<Exclude<QueueAction, 'flush'>, [string, string]> = {
  hold: ['stop delivering a message (queued and deferred recipients become held)', 'held'],
  release: [
    'deliver a held or quarantined message again (its recipients become queued, due now)',
    'released',
  ],
  requeue: ['try failed, expired and deferred recipients again now', 'requeued'],
};

function withLocation(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)');
}

function recipients(count: number): string {
  return count === 1 ? '1 recipient' : `${count} recipients`;
}

/** `outpost queue list|show|hold|release|flush|requeue|remove|stats`. */
export function registerQueueCommands(program: Command): void {
  const queue = program.command('queue').description('inspect and manage the mail queue');

  queue
    .command('list')
    .description('one line per recipient: queue id, status, attempts, next try, recipient, last reply')
    .option('-s, --status <status>', `only this status (${RECIPIENT_STATUSES.join(', ')})`)
    .option('-n, --limit <n>', 'at most n rows', '100')
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (options: { status?: string; limit: string; config?: string; data?: string }) => {
        if (options.status && !RECIPIENT_STATUSES.includes(options.status as RecipientStatus)) {
          throw new CliError(`--status: expected one of ${RECIPIENT_STATUSES.join(', ')}`);
        }
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError('--limit: expected a positive whole number');
        await withStore(options, async (store) => {
          const rows = await store.list({
            limit,
            ...(options.status ? { status: options.status as RecipientStatus } : {}),
          });
          for (const r of rows) {
            process.stdout.write(
              `${r.messageId}  ${r.status.padEnd(11)} ${String(r.attempts).padStart(3)}  ${iso(r.nextAttemptAt)}  ${r.address}` +
                `${r.lastReply ? `  ${r.lastReply}` : ''}\n`,
            );
          }
          if (rows.length === 0) process.stdout.write('queue is empty\n');
        });
      }),
    );

  queue
    .command('show <id>')
    .description('a message: envelope, reception facts, recipients with status and last reply')
    .option('--body', 'also print the message')
    .option('-c, --config <file>', 'config file')
    .option('-d, --data <dir>', 'data directory (default: ./data)')
    .action(
      action(async (id: string, options: { body?: boolean; config?: string; data?: string }) => {
        await withStore(options, async (store) => {
          const message = await store.message(id);
          if (!message) throw new CliError(`${id}: no such message in the queue`);
          const out = [
            `id:        ${message.id}`,
            `sender:    <${message.sender}>`,
            `received:  ${iso(message.receivedAt)}`,
            `size:      ${message.size}`,
            ...Object.entries(message.meta).map(([k, v]) => `${`${k}:`.padEnd(11)}${JSON.stringify(v)}`),
            'recipients:',
            ...message.recipients.map(
              (r) =>
                `  ${r.address}  ${r.status}  attempts=${r.attempts} next=${iso(r.nextAttemptAt)}` +
                `${r.lastReply ? `  last="${r.lastReply}"` : ''}`,
            ),
          ];
          process.stdout.write(`${out.join('\n')}\n`);
          if (options.body) {
            const body = await store.body(id);
            process.stdout.write(`\n${body?.toString('utf8') ?? '(body missing)'}\n`);
          }
        });
      }),
    );

  for (const [name, [description, done]] of Object.entries(ACTION_DESCRIPTIONS)) {
    withLocation(queue.command(`${name} <id>`).description(description)).action(
      action(async (id: string, options: LocationOptions) => {
        await withStore(options, async (store) => {
          const result = await applyQueueAction(store, id, name as QueueAction);
          process.stdout.write(`${id}: ${recipients(result.changed)} ${done}\n`);
        });
      }),
    );
  }

  withLocation(
    queue.command('flush [id]').description('make deferred recipients due now (one message, or all)'),
  ).action(
    action(async (id: string | undefined, options: LocationOptions) => {
      await withStore(options, async (store) => {
        const changed =
          id === undefined ? await flushQueue(store) : (await applyQueueAction(store, id, 'flush')).changed;
        process.stdout.write(`${id === undefined ? 'queue' : id}: ${recipients(changed)} due now\n`);
      });
    }),
  );

  withLocation(
    queue.command('remove <id>').description('delete a message and its recipients for good'),
  ).action(
    action(async (id: string, options: LocationOptions) => {
      await withStore(options, async (store) => {
        await removeMessage(store, id);
        process.stdout.write(`${id}: removed\n`);
      });
    }),
  );

  withLocation(queue.command('stats').description('messages in the queue and recipients by status')).action(
    action(async (options: LocationOptions) => {
      await withStore(options, async (store) => {
        const stats = await store.stats();
        const lines = [
          `messages    ${stats.messages}`,
          ...RECIPIENT_STATUSES.map((status) => `${status.padEnd(11)} ${stats.byStatus[status] ?? 0}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    }),
  );
}

// Child process of crash.test.ts: enqueues messages as fast as it can and prints each id only
// after its enqueue resolved (the moment SMTP would answer 250), until it is killed.
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';
import { crashBody, crashMessage } from './crash-shared.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: crash-child.ts <dir>');
const store = await openSqliteStore({
  path: `${dir}/queue.db`,
  bodiesDir: `${dir}/bodies`,
  inlineBodyMax: 2048,
});
process.stdout.write('ready\n');

let sequence = 0;
async function producer(): Promise<void> {
  // Bounded so a child the parent failed to kill still ends.
  while (sequence < 200_000) {
    sequence += 1;
    const mine = sequence;
    const message = crashMessage(mine);
    await store.enqueue({ ...message, body: crashBody(message.id, mine) });
    process.stdout.write(`${message.id} ${mine}\n`);
  }
}
await Promise.all(Array.from({ length: 16 }, producer));

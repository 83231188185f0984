// Child process of writer-loading.test.ts: opens a store (which starts the writer thread),
// writes and reads one message, closes, and says so.
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: open-child.ts <dir>');
const store = await openSqliteStore({ path: `${dir}/queue.db`, bodiesDir: `${dir}/bodies` });
const id = newQueueId();
await store.enqueue({
  id,
  sender: 'a@b.example',
  body: Buffer.from('hello'),
  receivedAt: Date.now(),
  meta: {},
  recipients: [{ address: 'c@d.example', target: 'maildir' }],
});
const body = await store.body(id);
await store.close();
process.stdout.write(`${body?.toString() === 'hello' ? 'ok' : 'wrong body'} ${id}\n`);

import type { Config } from '../config/schema.js';
import { openSqliteStore } from '../queue/store/sqlite/index.js';
import type { Store } from '../queue/store/types.js';
import { dataLayout } from '../server/outpost.js';
import { type LocationOptions, loadRuntimeConfig } from './context.js';

/** Opens the store of a data directory for one command and closes it afterwards. */
export async function withStore<T>(
  options: LocationOptions,
  fn: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = await loadRuntimeConfig(options);
  const layout = dataLayout(config);
  const store = await openSqliteStore({ path: layout.database, bodiesDir: layout.bodies });
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

/** Reads all of standard input (for --password-stdin and message input). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

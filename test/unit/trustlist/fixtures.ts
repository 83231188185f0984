import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { TrustListStore } from '../../../src/trustlist/store.js';

/** A fresh trust list database in a temp dir, closed and removed when the test ends. */
export async function tempStore(
  t: TestContext,
  now?: () => Date,
): Promise<{ store: TrustListStore; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-trustlist-'));
  const store = TrustListStore.open(path.join(dir, 'trustlist.db'), { now });
  t.after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, dir };
}

/** A list with nesting, exclusions, a delisting, templates and IPv6: the shapes the server must answer. */
export function fillVariedList(store: TrustListStore): void {
  const add = (network: string, category: number, trust: number, text = '') =>
    store.add({ network, category, trust, text }, 'test');
  add('10.0.0.0/8', 5, 1, 'Big ISP, see https://trust.test/lookup?$');
  add('10.1.0.0/16', 3, 2);
  add('10.1.2.0/24', 6, 3, 'Dollar $$ sign and address $ here');
  add('10.1.2.128/25', 4, 0, 'Government');
  store.add({ network: '10.1.2.200/32', exclude: true, reason: 'dynamic pool' }, 'test');
  add('192.0.2.0/24', 3, 2, 'Example ESP');
  add('198.51.100.7/32', 2, 3, 'Bank');
  store.remove('198.51.100.7/32', 'three complaints', 'test');
  add('203.0.113.0/26', 15, 0, 'odd $ and $$');
  add('2001:db8::/32', 5, 2, 'IPv6 ISP $');
  add('2001:db8:1::/48', 6, 1);
  store.add({ network: '2001:db8:1::5/128', exclude: true, reason: 'router' }, 'test');
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { cookieFor } from '../../../src/gen/chain.js';
import {
  describeComparison,
  initServerState,
  loadServerState,
  updateFromDns,
  verifyPeer,
} from '../../../src/gen/server-state.js';
import { formatGenTxt, genZoneFileLine } from '../../../src/gen/txt.js';
import { startTestDns } from '../../helpers/dns.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/gen/chain-vectors.json', import.meta.url), 'utf8'),
) as {
  seed: string;
  k: string[];
};
const ZONE = 'gen.test';
function k(epoch: number): Buffer {
  const hex = vectors.k[epoch];
  assert.ok(hex, `vector ${epoch}`);
  return Buffer.from(hex, 'hex');
}

/** A server whose state starts at `epoch` of the test chain, and a DNS server publishing `zoneText`. */
async function world(t: TestContext, epoch: number, zoneText: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-gen-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const statePath = path.join(dir, 'state.json');
  await initServerState(statePath, { zone: ZONE, epoch, cookie: k(epoch), maxAge: 2 });
  const { resolver } = await startTestDns(t, zoneText, ZONE);
  return { statePath, resolver };
}

test('update accepts a release that hashes back to our cookie across a gap, and says how far it went', async (t) => {
  const { statePath, resolver } = await world(t, 2, genZoneFileLine(ZONE, 5, k(5)));
  assert.deepEqual(await updateFromDns(statePath, resolver), {
    status: 'advanced',
    zone: ZONE,
    from: 2,
    to: 5,
    generations: 3,
  });
  const state = await loadServerState(statePath);
  assert.equal(state.epoch, 5);
  assert.deepEqual(state.cookie, k(5));
  assert.equal((await stat(statePath)).mode & 0o777, 0o600);
  assert.deepEqual(await updateFromDns(statePath, resolver), { status: 'current', zone: ZONE, epoch: 5 });
});

test('update refuses a cookie that does not chain and keeps the state as it was', async (t) => {
  const forged = Buffer.alloc(32, 0x5a);
  const { statePath, resolver } = await world(t, 2, genZoneFileLine(ZONE, 6, forged));
  const before = await readFile(statePath, 'utf8');
  await assert.rejects(
    updateFromDns(statePath, resolver),
    /epoch 6 .* does not hash back to our epoch 2 cookie: refused/,
  );
  assert.equal(await readFile(statePath, 'utf8'), before);
});

test('update refuses a cookie of another chain (same seed, other zone)', async (t) => {
  const foreign = cookieFor(Buffer.from(vectors.seed, 'hex'), 'other.test', 16, 6);
  const { statePath, resolver } = await world(t, 2, genZoneFileLine(ZONE, 6, foreign));
  await assert.rejects(updateFromDns(statePath, resolver), /does not hash back/);
});

test('update refuses to go back to an older epoch', async (t) => {
  const { statePath, resolver } = await world(t, 4, genZoneFileLine(ZONE, 3, k(3)));
  await assert.rejects(updateFromDns(statePath, resolver), /epoch 3 .* older than our epoch 4; keeping ours/);
  assert.equal((await loadServerState(statePath)).epoch, 4);
});

test('update explains a missing, duplicated or malformed record', async (t) => {
  const missing = await world(t, 2, `${ZONE}. 300 IN TXT "unrelated"`);
  await assert.rejects(
    updateFromDns(missing.statePath, missing.resolver),
    /no generation record at _gen\.gen\.test/,
  );

  const twice = await world(
    t,
    2,
    `${genZoneFileLine(ZONE, 3, k(3))}\n${genZoneFileLine(ZONE, 4, k(4))}\n_gen.${ZONE}. 300 IN TXT "v=spf1 -all"`,
  );
  await assert.rejects(updateFromDns(twice.statePath, twice.resolver), /2 "v=gen1" TXT records/);

  const broken = await world(
    t,
    2,
    `_gen.${ZONE}. 300 IN TXT "${formatGenTxt(3, k(3)).replace('e=3', 'e=three')}"`,
  );
  await assert.rejects(updateFromDns(broken.statePath, broken.resolver), /_gen\.gen\.test: epoch "three"/);
});

test('verifyPeer compares an offer with our state both ways', async (t) => {
  const { statePath } = await world(t, 6, genZoneFileLine(ZONE, 6, k(6)));
  const state = await loadServerState(statePath);
  const b64 = (epoch: number) => k(epoch).toString('base64');
  assert.equal(describeComparison(verifyPeer(state, 9, b64(9))), 'Peer is 3 generations newer');
  assert.equal(describeComparison(verifyPeer(state, 6, b64(6))), 'Peer is at the same generation');
  assert.equal(
    describeComparison(verifyPeer(state, 5, b64(5))),
    'Peer is 1 generation older, within the allowed age',
  );
  assert.equal(
    describeComparison(verifyPeer(state, 3, b64(3))),
    'Your mail server is 3 generations out of date',
  );
  assert.equal(describeComparison(verifyPeer(state, 7, b64(8))), 'Generation cookie is not on the chain');
  assert.throws(() => verifyPeer(state, 7, 'AAAA'), /not the base64 of 32 bytes/);
});

test('a state file is created only once', async (t) => {
  const { statePath } = await world(t, 1, genZoneFileLine(ZONE, 1, k(1)));
  await assert.rejects(
    initServerState(statePath, { zone: ZONE, epoch: 9, cookie: k(9), maxAge: 2 }),
    /already exists/,
  );
});

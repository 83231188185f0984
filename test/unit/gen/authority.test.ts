import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { loadZoneFile } from '../../../src/dns/zonefile.js';
import { initAuthority, releaseNext, showAuthority } from '../../../src/gen/authority.js';
import { cookieFor, hashBack } from '../../../src/gen/chain.js';
import { parseGenTxt } from '../../../src/gen/txt.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-gen-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('init writes a 0600 state file with a random seed and refuses to overwrite it', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'nested', 'authority.json');
  const summary = await initAuthority(file, 'Gen.Test', 8);
  assert.deepEqual(summary, { zone: 'gen.test', length: 8, releasedEpoch: null, remaining: 8 });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const state = JSON.parse(await readFile(file, 'utf8')) as { seed: string };
  assert.match(state.seed, /^[0-9a-f]{64}$/);
  await assert.rejects(initAuthority(file, 'gen.test', 8), /already exists/);
  assert.equal((JSON.parse(await readFile(file, 'utf8')) as { seed: string }).seed, state.seed);
});

test('two authorities get different seeds', async (t) => {
  const dir = await tempDir(t);
  await initAuthority(path.join(dir, 'a.json'), 'gen.test', 4);
  await initAuthority(path.join(dir, 'b.json'), 'gen.test', 4);
  const seedOf = async (name: string) =>
    (JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { seed: string }).seed;
  assert.notEqual(await seedOf('a.json'), await seedOf('b.json'));
});

test('releases go 0, 1, 2 ..., each the chain value of its epoch, each hashing back to the last', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  await initAuthority(file, 'gen.test', 5);
  const seed = Buffer.from((JSON.parse(await readFile(file, 'utf8')) as { seed: string }).seed, 'hex');
  const first = await releaseNext(file);
  assert.equal(first.epoch, 0);
  assert.deepEqual(first.cookie, cookieFor(seed, 'gen.test', 5, 0));
  const second = await releaseNext(file);
  assert.equal(second.epoch, 1);
  assert.deepEqual(hashBack(second.cookie, 'gen.test', 1, 1), first.cookie);
});

test('release writes the TXT line into the zone file, replacing the previous one and keeping the rest', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  const zoneFile = path.join(dir, 'gen.zone');
  await writeFile(zoneFile, '$ORIGIN gen.test.\n@ 300 IN A 127.0.0.1\n\nwww 300 IN A 127.0.0.2\n');
  await initAuthority(file, 'gen.test', 5);
  await releaseNext(file, { zoneFile });
  const { epoch, cookie } = await releaseNext(file, { zoneFile });
  const lines = (await readFile(zoneFile, 'utf8')).split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    '$ORIGIN gen.test.',
    '@ 300 IN A 127.0.0.1',
    '',
    'www 300 IN A 127.0.0.2',
  ]);
  const genLines = lines.filter((line) => line.startsWith('_gen.'));
  assert.equal(genLines.length, 1);
  const match = /^_gen\.gen\.test\. 300 IN TXT "(.*)"$/.exec(genLines[0] ?? '');
  assert.ok(match?.[1], genLines[0]);
  assert.deepEqual(parseGenTxt(match[1]), { epoch, cookie });
  assert.equal(epoch, 1);
});

test("a zone file created by release starts with $ORIGIN and loads in outpost's zone-file reader", async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  const zoneFile = path.join(dir, 'new.zone');
  await initAuthority(file, 'gen.test', 3);
  const { cookie } = await releaseNext(file, { zoneFile });
  assert.equal((await stat(zoneFile)).mode & 0o777, 0o644);
  const zones = await loadZoneFile(zoneFile);
  assert.deepEqual(zones, [
    {
      origin: 'gen.test',
      records: [
        {
          name: '_gen.gen.test',
          type: 'TXT',
          ttl: 300,
          data: [`v=gen1; e=0; k=${cookie.toString('base64')}`],
        },
      ],
    },
  ]);
});

test('show reports the current release and never the seed', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  await initAuthority(file, 'gen.test', 3);
  const { cookie } = await releaseNext(file);
  const summary = await showAuthority(file);
  const seed = (JSON.parse(await readFile(file, 'utf8')) as { seed: string }).seed;
  assert.equal(summary.releasedEpoch, 0);
  assert.equal(summary.remaining, 2);
  assert.equal(summary.current?.cookie, cookie.toString('base64'));
  assert.equal(summary.current?.txt, `v=gen1; e=0; k=${cookie.toString('base64')}`);
  const printed = JSON.stringify(summary);
  assert.ok(!printed.includes(seed) && !printed.includes(Buffer.from(seed, 'hex').toString('base64')));
});

test('the chain is exhausted before the seed itself would be published', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  await initAuthority(file, 'gen.test', 2);
  await releaseNext(file);
  await releaseNext(file);
  await assert.rejects(releaseNext(file), /exhausted/);
  assert.equal((await showAuthority(file)).releasedEpoch, 1);
});

test('a damaged state file is named in the error', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'authority.json');
  await writeFile(
    file,
    '{"format":"outpost-gen-authority/1","zone":"gen.test","length":2,"seed":"xy","releasedEpoch":null}',
  );
  await assert.rejects(
    showAuthority(file),
    new RegExp(`${file.replaceAll('.', '\\.')} is not an authority state file: seed`),
  );
  await assert.rejects(showAuthority(path.join(dir, 'missing.json')), /does not exist/);
});

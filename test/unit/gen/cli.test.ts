import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startTestDns } from '../../helpers/dns.js';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';

const entry = new URL('../../fixtures/gen/cli-entry.ts', import.meta.url).pathname;

/** Runs `outpost <args>` with only the gen commands registered; resolves with exit code and output. */
function runCli(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, ...args]);
}

test('an authority releases, a server bootstraps and follows it through our DNS, and verifies peers', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-gen-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const authority = path.join(dir, 'authority.json');
  const zoneFile = path.join(dir, 'gen.zone');
  const state = path.join(dir, 'state.json');

  const init = await runCli(['gen', 'init', '--zone', 'gen.test', '--length', '10', '--state', authority]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /created authority for gen\.test: 10 epochs/);

  const first = await runCli(['gen', 'release', '--state', authority, '--zone-file', zoneFile]);
  assert.equal(first.code, 0, first.stderr);
  const cookie0 = /k=([A-Za-z0-9+/]{43}=)/.exec(first.stdout)?.[1];
  assert.ok(cookie0, first.stdout);
  const second = await runCli(['gen', 'release', '--state', authority, '--zone-file', zoneFile]);
  assert.match(second.stdout, /released epoch 1 of gen\.test/);

  const show = await runCli(['gen', 'show', '--state', authority]);
  assert.match(show.stdout, /released epoch: 1/);
  const seed = (JSON.parse(await readFile(authority, 'utf8')) as { seed: string }).seed;
  assert.ok(!show.stdout.includes(seed));

  const { serverAddress } = await startTestDns(t, await readFile(zoneFile, 'utf8'), 'gen.test');
  const update = await runCli([
    'gen',
    'update',
    '--zone',
    'gen.test',
    '--state',
    state,
    '--server',
    serverAddress,
    '--epoch',
    '0',
    '--cookie',
    cookie0,
  ]);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stdout, /gen\.test: advanced 1 generation, epoch 0 -> 1/);
  assert.match(update.stdout, /epoch = 1\n/);

  const older = await runCli(['gen', 'verify', '--zone', 'gen.test', '0', cookie0, '--state', state]);
  assert.equal(older.code, 0, older.stderr);
  assert.equal(older.stdout, 'pass: Peer is 1 generation older, within the allowed age\n');

  const forged = await runCli([
    'gen',
    'verify',
    '--zone',
    'gen.test',
    '3',
    Buffer.alloc(32).toString('base64'),
    '--state',
    state,
  ]);
  assert.equal(forged.code, 1);
  assert.equal(forged.stdout, 'fail: Generation cookie is not on the chain\n');
});

test('operator mistakes are one line on stderr and exit code 1', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-gen-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const authority = path.join(dir, 'authority.json');
  await runCli(['gen', 'init', '--zone', 'gen.test', '--length', '3', '--state', authority]);
  const again = await runCli(['gen', 'init', '--zone', 'gen.test', '--length', '3', '--state', authority]);
  const noState = await runCli([
    'gen',
    'update',
    '--zone',
    'gen.test',
    '--state',
    path.join(dir, 'none.json'),
  ]);
  for (const [run, message] of [
    [again, /already exists/],
    [noState, /does not exist: give the starting point you trust with --epoch E --cookie C/],
  ] as const) {
    assert.equal(run.code, 1);
    assert.match(run.stderr, message);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});

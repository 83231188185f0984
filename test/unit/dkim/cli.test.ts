import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseZoneFile } from '../../../src/dns/zonefile.js';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';

const entry = new URL('./fixtures/cli-entry.ts', import.meta.url).pathname;

function runCli(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, ...args]);
}

test('keygen makes both keys and prints their records; list shows them; dns records publishes them', async (t) => {
  const data = await mkdtemp(path.join(os.tmpdir(), 'outpost-dkim-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));

  const made = await runCli(['dkim', 'keygen', 'example.org', '--selector', 'mail', '--data', data]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /wrote .*mail-rsa\.key \(rsa-sha256\)/);
  assert.match(made.stdout, /wrote .*mail-ed25519\.key \(ed25519-sha256\)/);
  const printed = parseZoneFile(
    made.stdout
      .split('\n')
      .filter((line) => line.includes(' IN '))
      .join('\n'),
    {
      fileName: 'stdout',
      origin: 'example.org',
    },
  ).flatMap((zone) => zone.records);
  assert.deepEqual(
    printed.map((r) => r.name),
    ['mail-rsa._domainkey.example.org', 'mail-ed25519._domainkey.example.org'],
  );
  assert.equal((await stat(path.join(data, 'dkim', 'example.org', 'mail-rsa.key'))).mode & 0o777, 0o600);

  const listed = await runCli(['dkim', 'list', '-d', data]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split('\n'), [
    'example.org  mail-ed25519  ed25519-sha256  mail-ed25519._domainkey.example.org',
    'example.org  mail-rsa  rsa-sha256  mail-rsa._domainkey.example.org',
  ]);

  await writeFile(
    path.join(data, 'outpost.toml'),
    'hostname = "mx.example.org"\ndomains = ["example.org"]\n',
  );
  const records = await runCli(['dns', 'records', '--data', data, '--address', '192.0.2.25']);
  assert.equal(records.code, 0, records.stderr);
  assert.match(records.stdout, /^example\.org\. 3600 IN MX 10 mx\.example\.org\.$/m);
  assert.match(
    records.stdout,
    /^mail-ed25519\._domainkey\.example\.org\. 3600 IN TXT "v=DKIM1; k=ed25519; p=/m,
  );
  assert.match(records.stdout, /^example\.org\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.25 mx -all"$/m);

  const other = await runCli(['dns', 'records', 'other.test', '--data', data]);
  assert.equal(other.code, 1);
  assert.equal(other.stderr, 'outpost: other.test is not a local domain (domains: example.org)\n');
});

test('keygen refuses to overwrite, a bad algorithm or a bad domain, each with one line and exit code 1', async (t) => {
  const data = await mkdtemp(path.join(os.tmpdir(), 'outpost-dkim-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const first = await runCli(['dkim', 'keygen', 'example.org', '-a', 'ed25519', '-s', 'one', '-d', data]);
  assert.equal(first.code, 0, first.stderr);

  const again = await runCli(['dkim', 'keygen', 'example.org', '-a', 'both', '-s', 'one', '-d', data]);
  const secondTry = await runCli(['dkim', 'keygen', 'example.org', '-a', 'ed25519', '-s', 'one', '-d', data]);
  assert.equal(secondTry.code, 1);
  assert.match(secondTry.stderr, /^outpost: .*one\.key already exists: choose another selector\n$/);
  // "both" with a fresh base name works: one-rsa and one-ed25519 do not exist yet.
  assert.equal(again.code, 0, again.stderr);

  const badAlgorithm = await runCli(['dkim', 'keygen', 'example.org', '-a', 'dsa', '-d', data]);
  assert.equal(badAlgorithm.code, 1);
  assert.equal(badAlgorithm.stderr, 'outpost: --algorithm: expected rsa, ed25519 or both, got "dsa"\n');

  const badDomain = await runCli(['dkim', 'keygen', '../etc', '-d', data]);
  assert.equal(badDomain.code, 1);
  assert.equal(badDomain.stderr, 'outpost: "../etc" is not a domain name\n');
});

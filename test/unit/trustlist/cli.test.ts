import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { dnsxlName } from '../../../src/checks/dnsbl/dnsxl.js';
import { createResolver } from '../../../src/dns/resolver.js';
import { startTestDns } from '../../helpers/dns.js';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';
import { tempStore } from './fixtures.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli-entry.ts');

function run(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, 'trustlist', ...args]);
}

async function dataDir(t: TestContext): Promise<string> {
  const { store, dir } = await tempStore(t);
  store.close();
  return dir;
}

test('add, list, remove, relist, show and audit from the command line', async (t) => {
  const dir = await dataDir(t);
  const add = await run([
    'add',
    '192.0.2.0/24',
    '--category',
    '3',
    '--trust',
    '2',
    '--text',
    'ESP $',
    '--contact',
    'abuse@esp.test',
    '--data',
    dir,
  ]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^192\.0\.2\.0\/24 +listed +127\.0\.3\.2 +"ESP \$" contact: abuse@esp\.test$/m);
  assert.match(add.stdout, /note: admission not established: no-open-relay/);
  const removed = await run(['remove', '192.0.2.0/24', '--reason', 'spam run', '--data', dir]);
  assert.match(removed.stdout, /delisted .* reason: spam run/);
  const early = await run(['relist', '192.0.2.0/24', '--data', dir]);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /^outpost: CONFLICT: .*may be relisted from .*\(or force it\)\n$/);
  assert.equal((await run(['relist', '192.0.2.0/24', '--force', '--data', dir])).code, 1);
  const forced = await run(['relist', '192.0.2.0/24', '--force', '--reason', 'relay fixed', '--data', dir]);
  assert.equal(forced.code, 0, forced.stderr);
  const list = await run(['list', '--data', dir]);
  assert.match(list.stdout, /^192\.0\.2\.0\/24 +listed/m);
  const show = await run(['show', '192.0.2.0/24', '--data', dir]);
  assert.match(show.stdout, /admission: missing no-open-relay, valid-reverse-dns/);
  const audit = await run(['audit', '--subject', '192.0.2.0/24', '--data', dir]);
  assert.deepEqual(
    audit.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[2]),
    ['relist', 'delist', 'add'],
  );
});

test('errors are one line on stderr with exit code 1', async (t) => {
  const dir = await dataDir(t);
  const cases: [string[], RegExp][] = [
    [['add', '192.0.2.1/24', '--category', '3', '--trust', '2'], /^outpost: BAD_REQUEST: .*host bits set/],
    [['add', '192.0.2.0/24', '--trust', '2'], /^outpost: --category and --trust are required/],
    [
      ['add', '192.0.2.0/24', '--category', '33', '--trust', '2'],
      /^outpost: --category: expected a whole number 2\.\.15/,
    ],
    [
      ['remove', '192.0.2.0/24', '--reason', 'x'],
      /^outpost: NOT_FOUND: Not found: 192\.0\.2\.0\/24 is not on the list/,
    ],
    [['export', '--format', 'zone'], /^outpost: --format: expected one of ip4set, ip4trie, ip6trie/],
    [['attest', '192.0.2.0/24', 'no-open-relay'], /is not an attested rule/],
  ];
  for (const [args, expected] of cases) {
    const result = await run([...args, '--data', dir]);
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, expected);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}`);
  }
});

test('import refuses a file it cannot serve exactly, naming lines; export writes it back', async (t) => {
  const dir = await dataDir(t);
  const bad = path.join(dir, 'bad.txt');
  await writeFile(bad, ':127.0.3.2:ok\n10.0.0.0/8\n10.0.0.5/24\n');
  const refused = await run(['import', bad, '--data', dir]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^outpost: BAD_REQUEST: Bad request: line 3: invalid range \(non-zero host part\)\n$/,
  );
  assert.equal((await run(['list', '--data', dir])).stdout, 'the list is empty\n', 'nothing was imported');
  const good = path.join(dir, 'good.txt');
  await writeFile(
    good,
    '$SOA 0 ns.trust.test hostmaster.trust.test 0 1h 10m 1w 1m\n:127.0.3.2:ok $\n10.0.0.0/8\n!10.1.0.0/16\n',
  );
  const imported = await run(['import', good, '--data', dir]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /imported .*: 2 added, 0 updated, 0 unchanged\nskipped line 1: \$SOA/);
  const out = path.join(dir, 'out.txt');
  const exported = await run(['export', '--output', out, '--data', dir]);
  assert.match(exported.stdout, /wrote 2 entries/);
  const again = await run(['import', out, '--data', dir]);
  assert.match(again.stdout, /0 added, 0 updated, 2 unchanged/);
});

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line like ${pattern} in: ${seen}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

test('serve answers, picks up changes made by other commands, and stops on SIGTERM', async (t) => {
  const dir = await dataDir(t);
  await run(['add', '203.0.113.0/24', '--category', '4', '--trust', '3', '--data', dir]);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      entry,
      'trustlist',
      'serve',
      '--zone',
      'trust.test',
      '--listen',
      '127.0.0.1:0',
      '--data',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const [, port] = await waitForLine(
    child,
    /serving trust\.test on 127\.0\.0\.1:(\d+) \(UDP and TCP\), serial 1/,
  );
  const resolver = createResolver({ servers: [`127.0.0.1:${port}`], cacheSize: 0, timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4(dnsxlName('203.0.113.5', 'trust.test')), ['127.0.4.3']);
  await run(['add', '198.51.100.0/24', '--category', '5', '--trust', '1', '--data', dir]);
  let answer: string[] = [];
  for (let attempt = 0; attempt < 100 && answer.length === 0; attempt++) {
    answer = await resolver.resolve4(dnsxlName('198.51.100.5', 'trust.test')).catch(() => []);
    if (answer.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(answer, ['127.0.5.1']);
  const stopped = waitForLine(child, /trustlist: stopped/);
  child.kill('SIGTERM');
  await stopped;
});

test('complaint and probe record their evidence', async (t) => {
  const dir = await dataDir(t);
  await run(['add', '127.1.0.0/16', '--category', '3', '--trust', '2', '--data', dir]);
  const evidence = path.join(dir, 'spam.eml');
  await writeFile(
    evidence,
    'Authentication-Results: mx.test; iprev=pass policy.iprev=10.0.0.1\r\nSubject: x\r\n\r\nbuy\r\n',
  );
  const filed = await run([
    'complaint',
    '10.0.0.1',
    '--evidence',
    evidence,
    '--reporter',
    'r@x.test',
    '--data',
    dir,
  ]);
  assert.equal(filed.code, 0, filed.stderr);
  assert.match(filed.stdout, /complaint #1 about 10\.0\.0\.1 recorded\nthe address is not on the list/);

  const dns = await startTestDns(
    t,
    `
     $ORIGIN target.test.
     @ SOA ns.target.test. h.target.test. 1 3600 600 86400 60
     @ MX 10 mx.target.test.
     mx A 127.0.0.1
     s1._domainkey TXT "v=DKIM1; p=MIIBIjANBg"
     $ORIGIN 0.0.127.in-addr.arpa.
     @ SOA ns.target.test. h.target.test. 1 3600 600 86400 60
     1 PTR mx.target.test.`,
  );
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (/^[a-z]+@target\.test$/.test(address.address)) return callback();
      return callback(Object.assign(new Error('Relay access denied'), { responseCode: 554 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.server.address() as AddressInfo).port;
  const probed = await run([
    'probe',
    `127.0.0.1:${port}`,
    '--domain',
    'target.test',
    '--selector',
    's1',
    '--contact',
    'abuse@target.test',
    '--dns',
    dns.serverAddress,
    '--timeout',
    '2000',
    '--data',
    dir,
  ]);
  assert.equal(probed.code, 0, probed.stdout + probed.stderr);
  assert.match(probed.stdout, /probe PASSED for 127\.0\.0\.1:\d+ \(target\.test\)\n.*\nrecorded as probe #1/);
});

// `outpost dns records` for the two-tier MX: both MX records (trusted first), the server-signature
// key, and what the owner of the sending address publishes (PTR, Reverse MX, MTAMark).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { mtamarkName } from '../../../src/checks/mtamark/index.js';
import { mxHostsFromListeners, renderDnsRecords } from '../../../src/dkim/records.js';
import type { ZoneRecord } from '../../../src/dns/records.js';
import { parseZoneFile } from '../../../src/dns/zonefile.js';
import { runTsx, type ScriptRun } from '../../helpers/outpost-process.js';
import { testKeys } from './fixtures/keys.js';

function parsed(text: string): ZoneRecord[] {
  return parseZoneFile(text, { fileName: 'records', origin: '.' }).flatMap((zone) => zone.records);
}

function ofType(records: ZoneRecord[], type: string): [string, unknown][] {
  return records.filter((r) => r.type === type).map((r) => [r.name, r.data]);
}

const TWO_TIER = [
  { name: 'mx-trusted', profile: 'mx-trusted', address: '192.0.2.10:25' },
  { name: 'mx-untrusted', profile: 'mx-untrusted', address: '192.0.2.11:25' },
  { name: 'submission', profile: 'submission', address: '0.0.0.0:587' },
];

test('MX hosts of a two-tier setup: listener names under the host name, trusted at the lower preference', () => {
  assert.deepEqual(mxHostsFromListeners('mail.example.org', TWO_TIER), [
    {
      name: 'mx-trusted.mail.example.org',
      preference: 10,
      listener: 'mx-trusted',
      profile: 'mx-trusted',
      port: 25,
      address: '192.0.2.10',
    },
    {
      name: 'mx-untrusted.mail.example.org',
      preference: 20,
      listener: 'mx-untrusted',
      profile: 'mx-untrusted',
      port: 25,
      address: '192.0.2.11',
    },
  ]);
  // mx_name wins; a lone MX listener is the host itself; wildcard and loopback give no address.
  assert.deepEqual(
    mxHostsFromListeners('mail.example.org', [
      { name: 'mx-trusted', profile: 'mx-trusted', address: '[::]:25', mx_name: 'MX1.Example.ORG.' },
    ]).map((mx) => [mx.name, mx.address]),
    [['mx1.example.org', undefined]],
  );
  assert.deepEqual(
    mxHostsFromListeners('mail.example.org', [{ name: 'mx', profile: 'mx', address: '127.0.0.1:2525' }]).map(
      (mx) => [mx.name, mx.preference, mx.address, mx.port],
    ),
    [['mail.example.org', 10, undefined, 2525]],
  );
});

test('records: both MX, their addresses, the server key, PTR, Reverse MX and MTAMark per address', async () => {
  const { rsa } = await testKeys;
  const text = renderDnsRecords({
    hostname: 'mail.example.org',
    domains: ['example.org'],
    addresses: ['192.0.2.25'],
    dkimKeys: new Map([['mail.example.org', [rsa]]]),
    mxHosts: mxHostsFromListeners('mail.example.org', TWO_TIER),
    trustLists: ['trust.example.net'],
  });
  const records = parsed(text);
  assert.deepEqual(ofType(records, 'MX'), [
    ['example.org', { preference: 10, exchange: 'mx-trusted.mail.example.org' }],
    ['example.org', { preference: 20, exchange: 'mx-untrusted.mail.example.org' }],
    // Reverse MX at the /24's reverse name, naming the sending host.
    ['2.0.192.in-addr.arpa', { preference: 10, exchange: 'mail.example.org' }],
  ]);
  assert.deepEqual(ofType(records, 'A'), [
    ['mail.example.org', '192.0.2.25'],
    ['mx-trusted.mail.example.org', '192.0.2.10'],
    ['mx-untrusted.mail.example.org', '192.0.2.11'],
  ]);
  assert.deepEqual(ofType(records, 'PTR'), [['25.2.0.192.in-addr.arpa', 'mail.example.org']]);
  const server = records.find((r) => r.name === `${rsa.selector}._domainkey.mail.example.org`);
  assert.ok(server, 'the server-signature key is published under the host name');
  assert.equal((server.data as string[]).join(''), `v=DKIM1; k=rsa; p=${rsa.publicKeyDnsValue}`);
  // MTAMark, at the name the mtamark check asks for.
  assert.equal(mtamarkName('192.0.2.25'), '_send._smtp._srv.25.2.0.192.in-addr.arpa');
  assert.deepEqual(
    ofType(records, 'TXT').filter(([name]) => name === mtamarkName('192.0.2.25')),
    [[mtamarkName('192.0.2.25'), ['1']]],
  );
  assert.match(text, /; server signature of mail\.example\.org \(DKIM d=mail\.example\.org\)/);
  assert.match(
    text,
    /trust list: ask trust\.example\.net to list 192\.0\.2\.25; it publishes 25\.2\.0\.192\.trust\.example\.net\. A 127\.0\.<category>\.<trust>/,
  );
  assert.doesNotMatch(text, /need different names/);
});

test('records: missing server key and a two-tier setup on one name are pointed out', () => {
  const text = renderDnsRecords({
    hostname: 'mail.example.org',
    domains: ['example.org'],
    dkimKeys: new Map(),
    mxHosts: mxHostsFromListeners('mail.example.org', [
      { name: 'mx-trusted', profile: 'mx-trusted', address: '0.0.0.0:2525', mx_name: 'mail.example.org' },
      { name: 'mx-untrusted', profile: 'mx-untrusted', address: '0.0.0.0:2526', mx_name: 'mail.example.org' },
    ]),
  });
  assert.match(text, /no server key yet: run "outpost dkim keygen mail\.example\.org"/);
  assert.match(text, /the trusted and the untrusted MX need different names on different addresses/);
  assert.match(text, /listener "mx-trusted" is on port 2525; other servers connect to port 25/);
  // One name: one MX record, at the trusted preference.
  assert.deepEqual(ofType(parsed(text), 'MX'), [
    ['example.org', { preference: 10, exchange: 'mail.example.org' }],
  ]);
});

const entry = new URL('./fixtures/cli-entry.ts', import.meta.url).pathname;

function runCli(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, ...args]);
}

test('outpost dns records reads the listeners, the rttl lists and the host key from config and data', async (t) => {
  const data = await mkdtemp(path.join(os.tmpdir(), 'outpost-dns-records-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const config = path.join(data, 'outpost.toml');
  await writeFile(
    config,
    [
      'hostname = "mail.example.org"',
      'data_dir = "."',
      'domains = ["example.org"]',
      '[[listeners]]',
      'name = "mx-trusted"',
      'profile = "mx-trusted"',
      'address = "192.0.2.10:25"',
      '  [[listeners.checks]]',
      '  use = "rttl"',
      '  lists = ["trust.example.net", { zone = "Other.Example", weight = 2 }]',
      '[[listeners]]',
      'name = "mx-untrusted"',
      'profile = "mx-untrusted"',
      'address = "192.0.2.11:25"',
      '',
    ].join('\n'),
  );
  const keygen = await runCli([
    'dkim',
    'keygen',
    'mail.example.org',
    '-s',
    'host',
    '-a',
    'ed25519',
    '-d',
    data,
  ]);
  assert.equal(keygen.code, 0, keygen.stderr);
  const out = await runCli(['dns', 'records', '-c', config, '--address', '192.0.2.25']);
  assert.equal(out.code, 0, out.stderr);
  const records = parsed(out.stdout);
  assert.deepEqual(ofType(records, 'MX').slice(0, 2), [
    ['example.org', { preference: 10, exchange: 'mx-trusted.mail.example.org' }],
    ['example.org', { preference: 20, exchange: 'mx-untrusted.mail.example.org' }],
  ]);
  assert.ok(records.some((r) => r.name === 'host._domainkey.mail.example.org' && r.type === 'TXT'));
  assert.ok(records.some((r) => r.name === '_send._smtp._srv.25.2.0.192.in-addr.arpa' && r.type === 'TXT'));
  assert.match(out.stdout, /ask trust\.example\.net to list 192\.0\.2\.25/);
  assert.match(out.stdout, /ask other\.example to list 192\.0\.2\.25/);
});

test('records: a server key on a parent of the host name is published there, as outbound signing uses it', async () => {
  const { rsa } = await testKeys;
  const text = renderDnsRecords({
    hostname: 'mx1.out.example.net',
    domains: ['example.org'],
    dkimKeys: new Map([['out.example.net', [rsa]]]),
  });
  assert.match(text, /; server signature of mx1\.out\.example\.net \(DKIM d=out\.example\.net\)/);
  const names = parsed(text).map((record) => record.name);
  assert.ok(names.includes(`${rsa.selector}._domainkey.out.example.net`), names.join(', '));
  assert.doesNotMatch(text, /no server key yet/);
});

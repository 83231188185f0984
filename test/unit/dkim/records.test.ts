import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsRecordSections, renderDnsRecords } from '../../../src/dkim/records.js';
import type { ZoneRecord } from '../../../src/dns/records.js';
import { parseZoneFile } from '../../../src/dns/zonefile.js';
import { testKeys } from './fixtures/keys.js';

function parsed(text: string): ZoneRecord[] {
  return parseZoneFile(text, { fileName: 'records', origin: '.' }).flatMap((zone) => zone.records);
}

function txtOf(records: ZoneRecord[], name: string): string[] {
  return records.filter((r) => r.name === name && r.type === 'TXT').map((r) => (r.data as string[]).join(''));
}

test('every record parses back as a zone file: MX, SPF, DMARC and a DKIM TXT per key', async () => {
  const { rsa, ed25519 } = await testKeys;
  const text = renderDnsRecords({
    hostname: 'mx.example.org',
    domains: ['example.org', 'Example.NET'],
    dkimKeys: new Map([['example.org', [rsa, ed25519]]]),
  });
  const records = parsed(text);
  const mx = records.filter((r) => r.type === 'MX').map((r) => [r.name, r.data]);
  assert.deepEqual(mx, [
    ['example.org', { preference: 10, exchange: 'mx.example.org' }],
    ['example.net', { preference: 10, exchange: 'mx.example.org' }],
  ]);
  assert.deepEqual(txtOf(records, 'example.org'), ['v=spf1 mx -all']);
  assert.deepEqual(txtOf(records, '_dmarc.example.net'), [
    'v=DMARC1; p=quarantine; rua=mailto:postmaster@example.net',
  ]);
  assert.deepEqual(txtOf(records, 'rsa1._domainkey.example.org'), [
    `v=DKIM1; k=rsa; p=${rsa.publicKeyDnsValue}`,
  ]);
  assert.deepEqual(txtOf(records, 'ed1._domainkey.example.org'), [
    `v=DKIM1; k=ed25519; p=${ed25519.publicKeyDnsValue}`,
  ]);
  // SPF for the HELO name, since the host is not itself a mail domain.
  assert.deepEqual(txtOf(records, 'mx.example.org'), ['v=spf1 a -all']);
  assert.ok(records.every((r) => r.ttl === 3600));
  assert.match(
    text,
    /; mail domain example\.net\n; {3}no DKIM key yet: run "outpost dkim keygen example\.net"/,
  );
  assert.match(text, /; {3}mx\.example\.org\. 3600 IN A <this host's public IPv4 address>/);
});

test('an RSA key record longer than 255 bytes is split into character-strings', async () => {
  const { rsa } = await testKeys;
  const text = renderDnsRecords({
    hostname: 'mx.example.org',
    domains: ['example.org'],
    dkimKeys: new Map([['example.org', [rsa]]]),
  });
  const line = text.split('\n').find((l) => l.startsWith('rsa1._domainkey.example.org.')) ?? '';
  const strings = line.match(/"[^"]*"/g) ?? [];
  assert.ok(strings.length >= 2, line);
  assert.ok(strings.every((s) => s.length - 2 <= 255));
});

test('known addresses become A/AAAA records, SPF mechanisms and reverse DNS advice', () => {
  const text = renderDnsRecords({
    hostname: 'mx.example.org',
    domains: ['example.org'],
    addresses: ['192.0.2.25', '2001:db8::25'],
    dkimKeys: new Map(),
    ttl: 300,
  });
  const records = parsed(text);
  assert.deepEqual(
    records.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => [r.type, r.data, r.ttl]),
    [
      ['A', '192.0.2.25', 300],
      ['AAAA', '2001:db8::25', 300],
    ],
  );
  assert.deepEqual(txtOf(records, 'example.org'), ['v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 mx -all']);
  assert.deepEqual(
    records.filter((r) => r.type === 'PTR').map((r) => [r.name, r.data]),
    [
      ['25.2.0.192.in-addr.arpa', 'mx.example.org'],
      ['5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'mx.example.org'],
    ],
  );
  assert.doesNotMatch(text, /<this host's public IPv4 address>/);
});

test('a host that is also a mail domain gets one SPF record, not two; a bare host name is flagged', () => {
  const records = parsed(
    renderDnsRecords({ hostname: 'example.org', domains: ['example.org'], dkimKeys: new Map() }),
  );
  assert.deepEqual(txtOf(records, 'example.org'), ['v=spf1 mx -all']);
  const sections = dnsRecordSections({ hostname: 'localhost', domains: ['localhost'], dkimKeys: new Map() });
  assert.match(sections[0]?.notes[0] ?? '', /"localhost" is not a public name/);
});

test('a bad address is refused', () => {
  assert.throws(
    () =>
      renderDnsRecords({ hostname: 'mx.example.org', domains: [], addresses: ['mx'], dkimKeys: new Map() }),
    /"mx" is not an IP address/,
  );
});

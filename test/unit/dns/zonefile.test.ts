import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatRecord } from '../../../src/dns/presentation.js';
import { type ZoneData, ZoneSet } from '../../../src/dns/zone.js';
import {
  loadZoneFile,
  loadZoneFiles,
  parseZoneFile,
  ZoneFileError,
  zonesFromToml,
} from '../../../src/dns/zonefile.js';

function parse(text: string, origin?: string): ZoneData[] {
  return parseZoneFile(text, { fileName: 'example.zone', origin });
}

function lines(zone: ZoneData | undefined): string[] {
  return (zone?.records ?? []).map(formatRecord);
}

const MASTER_FILE = `
$ORIGIN example.test.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            2024010101 ; serial
            3600 600 1w
            60 )        ; minimum
    IN  NS  ns1
    MX  10 mx            ; owner omitted: still @
    MX  20 backup.example.org.
ns1 300 A 127.0.0.1
mx  IN 300 A 127.0.0.2
    AAAA ::1
_rmx   TXT "ip4:127.0.0.0/8 -all"
quoted TXT "semi;colon" "say \\"hi\\"" unquoted \\065BC
_im2000._tcp SRV 0 5 443 po.example.test.
www CNAME mx
`;

test('a master file with $ORIGIN, $TTL, @, omitted owners, parentheses and comments', () => {
  const [zone, ...others] = parse(MASTER_FILE);
  assert.equal(others.length, 0);
  assert.equal(zone?.origin, 'example.test');
  assert.deepEqual(zone?.soa?.data, {
    mname: 'ns1.example.test',
    rname: 'hostmaster.example.test',
    serial: 2024010101,
    refresh: 3600,
    retry: 600,
    expire: 604800,
    minimum: 60,
  });
  assert.equal(zone?.soa?.ttl, 3600);
  assert.deepEqual(lines(zone), [
    'example.test. 3600 IN NS ns1.example.test.',
    'example.test. 3600 IN MX 10 mx.example.test.',
    'example.test. 3600 IN MX 20 backup.example.org.',
    'ns1.example.test. 300 IN A 127.0.0.1',
    'mx.example.test. 300 IN A 127.0.0.2',
    'mx.example.test. 3600 IN AAAA ::1',
    '_rmx.example.test. 3600 IN TXT "ip4:127.0.0.0/8 -all"',
    'quoted.example.test. 3600 IN TXT "semi;colon" "say \\"hi\\"" "unquoted" "ABC"',
    '_im2000._tcp.example.test. 3600 IN SRV 0 5 443 po.example.test.',
    'www.example.test. 3600 IN CNAME mx.example.test.',
  ]);
});

test('a $ORIGIN outside the zones so far starts another zone; one inside only shortens names', () => {
  const zones = parse(`
$ORIGIN example.test.
mx A 127.0.0.2
$ORIGIN sub.example.test.
host A 127.0.0.3
$ORIGIN 0.0.127.in-addr.arpa.
2 PTR mx.example.test.
`);
  assert.deepEqual(
    zones.map((zone) => zone.origin),
    ['example.test', '0.0.127.in-addr.arpa'],
  );
  assert.deepEqual(lines(zones[0]), [
    'mx.example.test. 3600 IN A 127.0.0.2',
    'host.sub.example.test. 3600 IN A 127.0.0.3',
  ]);
  assert.deepEqual(lines(zones[1]), ['2.0.0.127.in-addr.arpa. 3600 IN PTR mx.example.test.']);
});

test('TTL: explicit, else $TTL, else the last explicit one, else the default', () => {
  const [zone] = parse(
    'a 120 A 127.0.0.1\nb A 127.0.0.2\n$TTL 30\nc A 127.0.0.3\nd 1h30m A 127.0.0.4\n',
    'x.test',
  );
  assert.deepEqual(
    zone?.records.map((record) => record.ttl),
    [120, 120, 30, 5400],
  );
  const [fresh] = parse('a A 127.0.0.1', 'x.test');
  assert.equal(fresh?.records[0]?.ttl, 3600);
});

test('names with characters node refuses, escapes and case', () => {
  const [zone] = parse(
    'host\\:25 A 127.0.0.1\nsp\\032ace TXT x\n50% A 127.0.0.2\nUPPER A 127.0.0.3',
    'x.test',
  );
  assert.deepEqual(
    zone?.records.map((record) => record.name),
    ['host:25.x.test', 'sp ace.x.test', '50%.x.test', 'upper.x.test'],
  );
});

test('errors name the file and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['$ORIGIN x.test.\na A 127.0.0.1\nb A 300.0.0.1\n', /^example\.zone:3: not an IPv4 address/],
    ['$ORIGIN x.test.\n\nb MX mx\n', /^example\.zone:3: MX takes <preference> <exchange>/],
    ['$ORIGIN x.test.\nb TXT "open\n', /^example\.zone:2: unterminated quoted string/],
    ['$ORIGIN x.test.\n@ SOA ns h ( 1 2\n3 4\n', /^example\.zone:2: '\(' is never closed/],
    ['$ORIGIN x.test.\nb A 127.0.0.1 )\n', /^example\.zone:2: '\)' without '\('/],
    ['b A 127.0.0.1\n', /^example\.zone:1: relative name 'b' without \$ORIGIN/],
    ['$ORIGIN x.test.\nb HINFO a b\n', /^example\.zone:2: unsupported record type 'HINFO'/],
    ['$ORIGIN x.test.\nb CH A 127.0.0.1\n', /^example\.zone:2: class CH is not supported/],
    ['$ORIGIN x.test.\n  A 127.0.0.1\n', /^example\.zone:2: no owner name/],
    ['$INCLUDE other.zone\n', /^example\.zone:1: \$INCLUDE is not supported/],
    ['$ORIGIN x.test.\nb.other.test. A 127.0.0.1\n', /^example\.zone:2: b\.other\.test is outside the zones/],
    ['$ORIGIN x.test.\na\\.b A 127.0.0.1\n', /^example\.zone:2: escaped '\.' inside a label/],
    ['$ORIGIN x.test.\n@ SOA a b 1 2 3 4 5\n@ SOA a b 1 2 3 4 5\n', /^example\.zone:3: second SOA/],
    ['$ORIGIN x.test.\nb MX 99999 mx\n', /^example\.zone:2: MX preference must be a number 0\.\.65535/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parse(text),
      (error: unknown) => {
        assert.ok(error instanceof ZoneFileError, `${text}: ${String(error)}`);
        assert.match(error.message, expected);
        return true;
      },
    );
  }
});

test('TOML zones: records are zone-file lines relative to the origin', () => {
  const zones = zonesFromToml(
    {
      zones: [
        {
          origin: 'example.test',
          ttl: 300,
          records: ['@ MX 10 mx.example.test.', 'mx A 127.0.0.2', '_rmx TXT "ip4:127.0.0.0/8 -all"'],
        },
        { origin: '0.0.127.in-addr.arpa', records: ['2 PTR mx.example.test.'] },
      ],
    },
    'zones.toml',
  );
  assert.deepEqual(lines(zones[0]), [
    'example.test. 300 IN MX 10 mx.example.test.',
    'mx.example.test. 300 IN A 127.0.0.2',
    '_rmx.example.test. 300 IN TXT "ip4:127.0.0.0/8 -all"',
  ]);
  assert.deepEqual(lines(zones[1]), ['2.0.0.127.in-addr.arpa. 3600 IN PTR mx.example.test.']);
  assert.throws(
    () => zonesFromToml({ zones: [{ origin: 'x.test', records: ['a A 1.2.3.4', 'b A nope'] }] }, 'z.toml'),
    /^ZoneFileError: z\.toml: zones\[0\]\.records\[1\]: not an IPv4 address/,
  );
  assert.throws(() => zonesFromToml({ zones: [{ origin: 'x.test', ttl: -1 }] }, 'z.toml'), /zones\[0\]\.ttl/);
  assert.throws(
    () => zonesFromToml({ zones: [{ origin: 'x.test', recrods: [] }] }, 'z.toml'),
    /recrods: unknown key/,
  );
  assert.throws(() => zonesFromToml({ zone: [] }, 'z.toml'), /expected \[\[zones\]\]/);
});

test('loadZoneFile picks the parser by extension; loadZoneFiles checks files together', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-zones-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const master = join(dir, 'example.zone');
  const toml = join(dir, 'reverse.toml');
  const broken = join(dir, 'broken.toml');
  const clash = join(dir, 'clash.zone');
  await writeFile(master, '$ORIGIN example.test.\nmx A 127.0.0.2\n');
  await writeFile(toml, '[[zones]]\norigin = "0.0.127.in-addr.arpa"\nrecords = ["2 PTR mx.example.test."]\n');
  await writeFile(broken, '[[zones]]\norigin = "x.test"\nrecords = [\n"a A 1.2.3.4",\n2x]\n');
  await writeFile(clash, '$ORIGIN example.test.\nwww CNAME mx\nwww A 127.0.0.1\n');

  const zones = new ZoneSet();
  zones.replaceAll(await loadZoneFiles([master, toml]));
  assert.deepEqual(zones.origins(), ['example.test', '0.0.127.in-addr.arpa']);

  await assert.rejects(loadZoneFile(broken), new RegExp(`^ZoneFileError: ${broken}:5: Invalid TOML`));
  await assert.rejects(loadZoneFile(join(dir, 'missing.zone')), /cannot read zone file \(ENOENT\)/);
  await assert.rejects(
    loadZoneFiles([clash]),
    new RegExp(`${clash}: invalid record: www.example.test is a CNAME`),
  );
  await assert.rejects(loadZoneFiles([master, master]), /zone example\.test is already defined in/);
});

test('formatRecord output parses back to the same records', () => {
  const [zone] = parse(MASTER_FILE);
  const text = [zone?.soa, ...(zone?.records ?? [])]
    .map((record) => (record ? formatRecord(record) : ''))
    .join('\n');
  const [again] = parse(text);
  assert.deepEqual(again?.records, zone?.records);
  assert.deepEqual(again?.soa, zone?.soa);
  const [odd] = parse('sp\\032ace\\;x TXT "tab\\009" "back\\\\slash"', 'x.test');
  const [oddAgain] = parse((odd?.records ?? []).map(formatRecord).join('\n'), 'x.test');
  assert.deepEqual(oddAgain?.records, odd?.records);
});

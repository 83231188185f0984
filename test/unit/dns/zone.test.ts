import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCharacterStrings } from '../../../src/dns/records.js';
import { type ZoneRecord, ZoneSet } from '../../../src/dns/zone.js';

function zoneWith(...records: ZoneRecord[]): ZoneSet {
  const zones = new ZoneSet();
  zones.addZone('example.test');
  for (const record of records) zones.add(record);
  return zones;
}

const a = (name: string, data: string, ttl = 300): ZoneRecord => ({ name, type: 'A', ttl, data });
const txt = (name: string, ...data: string[]): ZoneRecord => ({ name, type: 'TXT', ttl: 300, data });
const cname = (name: string, data: string): ZoneRecord => ({ name, type: 'CNAME', ttl: 300, data });

test('answers, NXDOMAIN and NODATA carry the SOA on negative answers; other names are REFUSED', () => {
  const zones = zoneWith(a('mx.example.test', '127.0.0.2'));
  const found = zones.lookup('MX.Example.Test.', 'A');
  assert.equal(found.rcode, 'NOERROR');
  assert.deepEqual(found.answers, [a('mx.example.test', '127.0.0.2')]);
  assert.deepEqual(found.authority, []);

  const missing = zones.lookup('nope.example.test', 'A');
  assert.equal(missing.rcode, 'NXDOMAIN');
  assert.equal(missing.authority[0]?.type, 'SOA');

  const noData = zones.lookup('mx.example.test', 'AAAA');
  assert.equal(noData.rcode, 'NOERROR');
  assert.deepEqual(noData.answers, []);
  assert.equal(noData.authority[0]?.type, 'SOA');

  assert.equal(zones.lookup('example.org', 'A').rcode, 'REFUSED');
  assert.equal(zones.lookup('example.test', 'SOA').answers[0]?.type, 'SOA');
});

test('an empty non-terminal exists: NODATA, not NXDOMAIN', () => {
  const zones = zoneWith(txt('_send._smtp._srv.example.test', '1'));
  assert.equal(zones.lookup('_smtp._srv.example.test', 'TXT').rcode, 'NOERROR');
  assert.equal(zones.lookup('_srv.example.test', 'TXT').rcode, 'NOERROR');
  assert.equal(zones.lookup('_other.example.test', 'TXT').rcode, 'NXDOMAIN');
  zones.remove('_send._smtp._srv.example.test');
  assert.equal(zones.lookup('_srv.example.test', 'TXT').rcode, 'NXDOMAIN');
});

test('wildcards answer for names that do not exist, under the owner asked for (RFC 4592)', () => {
  const zones = zoneWith(
    a('*.example.test', '127.0.0.9'),
    a('host.example.test', '127.0.0.1'),
    txt('sub.example.test', 'exists'),
  );
  const synthesized = zones.lookup('a.b.c.example.test', 'A');
  assert.equal(synthesized.rcode, 'NOERROR');
  assert.deepEqual(synthesized.answers, [a('a.b.c.example.test', '127.0.0.9')]);
  // An existing name blocks the wildcard, even for a type it does not have.
  assert.deepEqual(zones.lookup('sub.example.test', 'A').answers, []);
  assert.equal(zones.lookup('sub.example.test', 'A').rcode, 'NOERROR');
  assert.deepEqual(zones.lookup('host.example.test', 'A').answers, [a('host.example.test', '127.0.0.1')]);
  // Below an existing name the closest encloser is that name, which has no wildcard.
  assert.equal(zones.lookup('x.sub.example.test', 'A').rcode, 'NXDOMAIN');
  // A wildcard without the type asked for gives NODATA.
  const noData = zones.lookup('other.example.test', 'MX');
  assert.equal(noData.rcode, 'NOERROR');
  assert.deepEqual(noData.answers, []);
  // The apex is not matched by its own wildcard.
  assert.deepEqual(zones.lookup('example.test', 'A').answers, []);
});

test('CNAMEs are followed inside our zones, not outside, and loops stop', () => {
  const zones = zoneWith(
    cname('www.example.test', 'web.example.test'),
    a('web.example.test', '127.0.0.5'),
    cname('out.example.test', 'elsewhere.org'),
    cname('loop1.example.test', 'loop2.example.test'),
    cname('loop2.example.test', 'loop1.example.test'),
    cname('dangling.example.test', 'gone.example.test'),
  );
  const chain = zones.lookup('www.example.test', 'A');
  assert.deepEqual(
    chain.answers.map((r) => `${r.name} ${r.type}`),
    ['www.example.test CNAME', 'web.example.test A'],
  );
  assert.deepEqual(
    zones.lookup('out.example.test', 'A').answers.map((r) => r.type),
    ['CNAME'],
  );
  const loop = zones.lookup('loop1.example.test', 'A');
  assert.equal(loop.rcode, 'NOERROR');
  assert.equal(loop.answers.length, 2);
  // RFC 6604: the rcode is about the last name of the chain.
  const dangling = zones.lookup('dangling.example.test', 'A');
  assert.equal(dangling.rcode, 'NXDOMAIN');
  assert.equal(dangling.answers.length, 1);
  // Asking for the CNAME itself does not follow it.
  assert.deepEqual(zones.lookup('www.example.test', 'CNAME').answers, [
    cname('www.example.test', 'web.example.test'),
  ]);
});

test('a CNAME cannot share its name with other data', () => {
  const zones = zoneWith(
    a('host.example.test', '127.0.0.1'),
    cname('alias.example.test', 'host.example.test'),
  );
  assert.throws(() => zones.add(cname('host.example.test', 'x.example.test')), /cannot be a CNAME/);
  assert.throws(() => zones.add(txt('alias.example.test', 'x')), /is a CNAME/);
  assert.throws(() => zones.add(cname('alias.example.test', 'other.example.test')), /two CNAMEs/);
  zones.add(cname('alias.example.test', 'host.example.test')); // the same record again is fine
  zones.replace('alias.example.test', 'CNAME', [cname('alias.example.test', 'other.example.test')]);
  assert.equal(zones.lookup('alias.example.test', 'CNAME').answers[0]?.data, 'other.example.test');
});

test('add rejects bad records and names outside every zone', () => {
  const zones = zoneWith();
  assert.throws(() => zones.add(a('x.example.test', '300.1.1.1')), /not an IPv4 address/);
  assert.throws(() => zones.add(a('x.example.org', '127.0.0.1')), /not inside any zone/);
  assert.throws(() => zones.add(a('x..example.test', '127.0.0.1')), /empty label/);
  assert.throws(() =>
    zones.add({ name: 'example.test', type: 'MX', ttl: 1, data: { preference: 70000, exchange: 'x' } }),
  );
  assert.throws(() => zones.addZone('example.test'), /already exists/);
});

test('replace and remove update data live; duplicates are ignored', () => {
  const zones = zoneWith(
    a('h.example.test', '127.0.0.1'),
    a('h.example.test', '127.0.0.1'),
    txt('h.example.test', 't'),
  );
  assert.equal(zones.lookup('h.example.test', 'A').answers.length, 1);
  zones.replace('h.example.test', 'A', [a('h.example.test', '127.0.0.7'), a('h.example.test', '127.0.0.8')]);
  assert.deepEqual(
    zones.lookup('h.example.test', 'A').answers.map((r) => r.data),
    ['127.0.0.7', '127.0.0.8'],
  );
  assert.throws(
    () => zones.replace('h.example.test', 'A', [a('g.example.test', '127.0.0.1')]),
    /got a A record for g/,
  );
  assert.equal(zones.remove('h.example.test', 'A'), 2);
  assert.equal(zones.lookup('h.example.test', 'A').rcode, 'NOERROR');
  assert.equal(zones.remove('h.example.test'), 1);
  assert.equal(zones.lookup('h.example.test', 'A').rcode, 'NXDOMAIN');
  assert.throws(() => zones.remove('example.test', 'SOA'), /cannot be removed/);
});

test('replaceAll swaps every zone at once, or nothing when a record is bad', () => {
  const zones = zoneWith(a('old.example.test', '127.0.0.1'));
  zones.replaceAll([{ origin: 'new.test', records: [a('www.new.test', '127.0.0.3')] }]);
  assert.deepEqual(zones.origins(), ['new.test']);
  assert.throws(() => zones.replaceAll([{ origin: 'x.test', records: [a('www.x.test', 'bad')] }]));
  assert.deepEqual(zones.origins(), ['new.test']);
  assert.equal(zones.lookup('www.new.test', 'A').answers.length, 1);
});

test('long TXT strings are split into 255-byte character-strings, never inside a character', () => {
  const long = 'v=DKIM1; k=rsa; p='.padEnd(600, 'A');
  const zones = zoneWith(txt('key.example.test', long));
  const stored = zones.lookup('key.example.test', 'TXT').answers[0];
  assert.equal(stored?.type, 'TXT');
  const parts = stored?.type === 'TXT' ? stored.data : [];
  assert.deepEqual(
    parts.map((part) => Buffer.byteLength(part)),
    [255, 255, 90],
  );
  assert.equal(parts.join(''), long);

  const accented = `x${'é'.repeat(200)}`; // 401 bytes; byte 255 falls inside an 'é'
  const split = splitCharacterStrings(accented);
  assert.deepEqual(
    split.map((part) => Buffer.byteLength(part)),
    [255, 146],
  );
  assert.equal(split.join(''), accented);
  assert.deepEqual(splitCharacterStrings(''), ['']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inCidr, parseCidr, parseIp, plainIp, sameIp } from '../../../src/pipeline/ip.js';

test('plainIp unmaps IPv4-mapped IPv6 and lower-cases IPv6', () => {
  assert.equal(plainIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(plainIp('::FFFF:192.0.2.1'), '192.0.2.1');
  assert.equal(plainIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(plainIp('192.0.2.1'), '192.0.2.1');
});

test('parseIp gives bytes for both families and undefined for other text', () => {
  assert.deepEqual(parseIp('192.0.2.1')?.bytes, Uint8Array.from([192, 0, 2, 1]));
  assert.deepEqual(
    parseIp('2001:db8::1')?.bytes,
    Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  );
  assert.deepEqual(parseIp('::1.2.3.4')?.bytes.slice(12), Uint8Array.from([1, 2, 3, 4]));
  assert.equal(parseIp('mail.example'), undefined);
  assert.equal(parseIp('300.1.1.1'), undefined);
});

test('sameIp compares addresses, not spellings', () => {
  assert.ok(sameIp('2001:db8::1', '2001:0DB8:0:0:0:0:0:1'));
  assert.ok(sameIp('::ffff:192.0.2.1', '192.0.2.1'));
  assert.ok(!sameIp('192.0.2.1', '192.0.2.2'));
  assert.ok(!sameIp('::1', '0.0.0.1'));
});

test('CIDR blocks: parsing and membership, bare addresses as host blocks', () => {
  const net = parseCidr('192.0.2.0/25');
  assert.ok(net);
  assert.ok(inCidr('192.0.2.127', net));
  assert.ok(!inCidr('192.0.2.128', net));
  const v6 = parseCidr('2001:db8:1::/48');
  assert.ok(v6);
  assert.ok(inCidr('2001:db8:1:ffff::1', v6));
  assert.ok(!inCidr('2001:db8:2::1', v6));
  assert.ok(!inCidr('192.0.2.1', v6));
  const host = parseCidr('192.0.2.7');
  assert.ok(host && inCidr('192.0.2.7', host) && !inCidr('192.0.2.6', host));
  const all = parseCidr('0.0.0.0/0');
  assert.ok(all && inCidr('198.51.100.1', all));
  for (const bad of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.0/', '192.0.2.0/a', 'x/8']) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
});

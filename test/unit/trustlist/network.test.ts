import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  coveringNetworks,
  formatAddress,
  ipv4RangeToNetworks,
  parseAddress,
  parseNetwork,
} from '../../../src/trustlist/network.js';

function network(text: string): string {
  const parsed = parseNetwork(text);
  assert.ok(parsed.ok, `${text} should parse`);
  return parsed.network.text;
}

test('networks have one canonical text whatever the spelling', () => {
  assert.equal(network('192.0.2.0/24'), '192.0.2.0/24');
  assert.equal(network('192.0.2.7'), '192.0.2.7/32');
  assert.equal(network('2001:DB8:0:0::/32'), '2001:db8::/32');
  assert.equal(network('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1/128');
  assert.equal(network('::ffff:7f00:2'), '::ffff:7f00:2/128');
  assert.equal(network('0.0.0.0/0'), '0.0.0.0/0');
});

test('host bits, bad prefixes and non-addresses are refused with the reason', () => {
  const hostBits = parseNetwork('192.0.2.1/24');
  assert.equal(hostBits.ok, false);
  assert.match(hostBits.ok ? '' : hostBits.problem, /host bits set; the network is 192\.0\.2\.0\/24/);
  for (const text of [
    '192.0.2.0/33',
    '192.0.2.0/',
    '192.0.2.0/024',
    '01.2.3.4',
    'example.org',
    'fe80::1%eth0',
    '',
  ]) {
    assert.equal(parseNetwork(text).ok, false, text);
  }
});

test('IPv6 text follows RFC 5952: longest zero run compressed, a single zero group kept', () => {
  const cases: [string, string][] = [
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
  ];
  for (const [input, expected] of cases) {
    const address = parseAddress(input);
    assert.ok(address);
    assert.equal(formatAddress(address), expected);
  }
});

test('covering networks run from the host to the whole space', () => {
  const address = parseAddress('192.0.2.77');
  assert.ok(address);
  const covering = coveringNetworks(address);
  assert.equal(covering.length, 33);
  assert.equal(covering[0], '192.0.2.77/32');
  assert.equal(covering[8], '192.0.2.0/24');
  assert.equal(covering[32], '0.0.0.0/0');
});

test('a range becomes the fewest CIDR blocks covering exactly it', () => {
  const blocks = (first: string, last: string) => {
    const [a, b] = [parseAddress(first), parseAddress(last)];
    assert.ok(a && b);
    const number = (x: Uint8Array) => x.reduce((sum, byte) => sum * 256 + byte, 0);
    return ipv4RangeToNetworks(number(a.bytes), number(b.bytes)).map((n) => n.text);
  };
  assert.deepEqual(blocks('10.0.0.0', '10.0.0.255'), ['10.0.0.0/24']);
  assert.deepEqual(blocks('10.0.0.5', '10.0.0.8'), ['10.0.0.5/32', '10.0.0.6/31', '10.0.0.8/32']);
  assert.deepEqual(blocks('0.0.0.0', '255.255.255.255'), ['0.0.0.0/0']);
  assert.deepEqual(blocks('127.16.0.0', '127.31.255.255'), ['127.16.0.0/12']);
});

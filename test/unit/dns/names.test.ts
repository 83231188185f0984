import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ipv6Nibbles,
  isSubdomain,
  nameProblem,
  normalizeName,
  reverseName,
  reverseNetworkName24,
  reverseNetworkName64,
} from '../../../src/dns/names.js';
import { nameServersOf } from '../../../src/dns/system.js';
import { parseIpPort, parseNameServer } from '../../../src/dns/wire.js';

test('names are compared in lower case without the trailing dot, only ASCII letters folded', () => {
  assert.equal(normalizeName('Mail.Example.TEST.'), 'mail.example.test');
  assert.equal(normalizeName('.'), '');
  assert.equal(normalizeName('ÄB.test'), 'Äb.test');
});

test('names DNS allows but node refuses are accepted; malformed ones are explained', () => {
  for (const name of ['_rmx.example.test', 'a b.test', 'host:25.test', '50%.test', '*.x.test']) {
    assert.equal(nameProblem(name), undefined, name);
  }
  assert.equal(nameProblem(''), 'empty name');
  assert.equal(nameProblem('', true), undefined);
  assert.equal(nameProblem('a..b'), 'empty label');
  assert.equal(nameProblem('.a'), 'empty label');
  assert.equal(nameProblem(`${'x'.repeat(64)}.test`), 'label longer than 63 octets');
  assert.equal(nameProblem(`${'x'.repeat(63)}.test`), undefined);
  assert.equal(nameProblem(`${'é'.repeat(32)}.test`), 'label longer than 63 octets');
  assert.equal(nameProblem(Array(64).fill('abc').join('.')), 'name longer than 253 octets');
});

test('isSubdomain matches whole labels only', () => {
  assert.equal(isSubdomain('a.example.test', 'example.test'), true);
  assert.equal(isSubdomain('example.test', 'example.test'), true);
  assert.equal(isSubdomain('badexample.test', 'example.test'), false);
  assert.equal(isSubdomain('anything', ''), true);
});

test('reverse names for IPv4 and IPv6', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(
    reverseName('2001:db8::567:89ab'),
    'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  );
  assert.equal(reverseName('::1'), `1${'.0'.repeat(31)}.ip6.arpa`);
  assert.equal(ipv6Nibbles('::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
  assert.equal(ipv6Nibbles('FE80::1%eth0'), 'fe800000000000000000000000000001');
  assert.throws(() => reverseName('example.test'), /not an IPv6 address/);
});

test('reverse names of the /24 and the /64 of an address', () => {
  assert.equal(reverseNetworkName24('192.0.2.77'), '2.0.192.in-addr.arpa');
  assert.equal(reverseNetworkName64('2001:db8:1:2::5'), '2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.throws(() => reverseNetworkName24('::1'), /not an IPv4 address/);
});

test('server addresses: ip, ip:port, [v6]:port, bare v6', () => {
  assert.deepEqual(parseNameServer('127.0.0.1:5353'), {
    host: '127.0.0.1',
    port: 5353,
    family: 4,
    label: '127.0.0.1:5353',
  });
  assert.equal(parseNameServer('127.0.0.1').port, 53);
  assert.deepEqual(parseNameServer('[::1]:5300'), {
    host: '::1',
    port: 5300,
    family: 6,
    label: '[::1]:5300',
  });
  assert.equal(parseNameServer('2001:db8::1').port, 53);
  assert.throws(() => parseNameServer('dns.example:53'), /not an IP address/);
  assert.throws(() => parseNameServer('127.0.0.1:0'), /port must be 1\.\.65535/);
  assert.throws(() => parseNameServer('[::1'), /missing '\]'/);
  assert.equal(parseIpPort('127.0.0.1:0', 'listen address', 53, 0).port, 0);
});

test('resolv.conf nameserver lines become server addresses', () => {
  const text = '# comment\nsearch example.test\nnameserver 10.0.0.53\nnameserver fe80::1\nnameserver bogus\n';
  assert.deepEqual(nameServersOf(text), ['10.0.0.53:53', '[fe80::1]:53']);
});

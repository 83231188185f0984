import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authResultsValue,
  authservIdOf,
  formatAuthResults,
  stripForgedAuthResults,
} from '../../../src/pipeline/auth-results.js';
import type { CheckResult } from '../../../src/pipeline/check.js';

test('no results is "none"', () => {
  assert.equal(formatAuthResults('mx.outpost.test', []), 'Authentication-Results: mx.outpost.test; none\r\n');
});

test('one folded line per method, in order, with further entries of a result after it', () => {
  const results: Array<[string, CheckResult]> = [
    ['spf', { result: 'pass', props: { 'smtp.mailfrom': 'alice@sender.test' } }],
    [
      'dkim',
      {
        result: 'pass',
        props: { 'header.d': 'sender.test', 'header.s': 'sel1' },
        more: [{ result: 'fail', props: { 'header.d': 'other.test' } }],
      },
    ],
    ['reverse-mx', { result: 'none' }],
  ];
  assert.equal(
    formatAuthResults('mx.outpost.test', results),
    [
      'Authentication-Results: mx.outpost.test;',
      '\tspf=pass smtp.mailfrom=alice@sender.test;',
      '\tdkim=pass header.d=sender.test header.s=sel1;',
      '\tdkim=fail header.d=other.test;',
      '\treverse-mx=none',
      '',
    ].join('\r\n'),
  );
});

test('values are bare when they are tokens or addresses, quoted otherwise', () => {
  assert.equal(authResultsValue('192.0.2.1'), '192.0.2.1');
  assert.equal(authResultsValue('alice@sender.test'), 'alice@sender.test');
  assert.equal(authResultsValue('@sender.test'), '@sender.test');
  assert.equal(authResultsValue('2001:db8::1'), '"2001:db8::1"');
  assert.equal(authResultsValue('two words'), '"two words"');
  assert.equal(authResultsValue('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
  assert.equal(authResultsValue('a;b=c'), '"a;b=c"');
  assert.equal(authResultsValue('bad\r\nheader'), '"bad header"');
});

test('a long entry folds between words, never inside a quoted value, lines within 78 where possible', () => {
  const reason = 'x'.repeat(40);
  const header = formatAuthResults('mx.outpost.test', [
    [
      'rttl',
      {
        result: 'pass',
        method: 'dnswl',
        reason,
        props: { 'dns.zone': 'trust.example', 'policy.ip': '127.0.3.2' },
      },
    ],
  ]);
  const lines = header.split('\r\n');
  assert.deepEqual(lines, [
    'Authentication-Results: mx.outpost.test;',
    `\tdnswl=pass reason=${reason}`,
    '\t  dns.zone=trust.example policy.ip=127.0.3.2',
    '',
  ]);
  for (const line of lines) assert.ok(line.length <= 78, line);
});

const INCOMING = [
  'Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000',
  'Authentication-Results: MX.Outpost.Test; spf=pass',
  '  smtp.mailfrom=forged@bank.test',
  'Authentication-Results: relay.other.test; dkim=pass header.d=other.test',
  'authentication-results :  (a comment (nested)) mx.outpost.test;',
  '\tdkim=pass',
  'Authentication-Results: "mx.outpost.test" 1; none',
  'Authentication-Results: mx.outpost.test.evil.test; none',
  'X-Authentication-Results: mx.outpost.test; none',
  'Subject: hello',
  '',
  '',
].join('\r\n');

test('incoming A-R fields claiming our authserv-id are removed with their continuation lines', () => {
  assert.equal(
    stripForgedAuthResults(INCOMING, 'mx.outpost.test'),
    [
      'Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000',
      'Authentication-Results: relay.other.test; dkim=pass header.d=other.test',
      'Authentication-Results: mx.outpost.test.evil.test; none',
      'X-Authentication-Results: mx.outpost.test; none',
      'Subject: hello',
      '',
      '',
    ].join('\r\n'),
  );
});

test('stripping works on bare-LF header blocks and leaves a block without A-R fields untouched', () => {
  const lf = 'Authentication-Results: mx.outpost.test;\n spf=pass\nSubject: x\n\n';
  assert.equal(stripForgedAuthResults(lf, 'mx.outpost.test'), 'Subject: x\n\n');
  const plain = 'From: a@b.test\r\nSubject: x\r\n\r\n';
  assert.equal(stripForgedAuthResults(plain, 'mx.outpost.test'), plain);
});

test('the authserv-id is read past comments, from a quoted-string, before a version', () => {
  assert.equal(authservIdOf(' (c (d)) Host.Test; none'), 'host.test');
  assert.equal(authservIdOf(' "host.test" 1; none'), 'host.test');
  assert.equal(authservIdOf(' host.test 1; none'), 'host.test');
  assert.equal(authservIdOf('   '), undefined);
});

test('our own header survives a strip by another authserv-id and is removed by ours', () => {
  const ours = formatAuthResults('mx.outpost.test', [
    ['spf', { result: 'pass', props: { 'smtp.mailfrom': 'a@b.test' } }],
  ]);
  const block = `${ours}Subject: x\r\n\r\n`;
  assert.equal(stripForgedAuthResults(block, 'other.test'), block);
  assert.equal(stripForgedAuthResults(block, 'mx.outpost.test'), 'Subject: x\r\n\r\n');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportRbldnsd, parseRbldnsd, RbldnsdFormatError } from '../../../src/trustlist/rbldnsd.js';
import type { NewEntry } from '../../../src/trustlist/types.js';
import { fillVariedList, tempStore } from './fixtures.js';

function problems(content: string, format: 'ip4set' | 'ip4trie' | 'ip6trie'): string[] {
  try {
    parseRbldnsd(content, format);
  } catch (error) {
    assert.ok(error instanceof RbldnsdFormatError);
    return error.problems.map((item) => `${item.line}: ${item.problem}`);
  }
  return [];
}

const summary = (entry: NewEntry) =>
  entry.exclude
    ? `!${entry.network}`
    : `${entry.network} 127.0.${entry.category}.${entry.trust} ${JSON.stringify(entry.text)}`;

test('ip4trie lines: default values, per-entry A and TXT, exclusions, comments', () => {
  const content = [
    '# a comment',
    '; another',
    '$SOA 300 ns.trust.test hostmaster.trust.test 0 1h 10m 1w 1m',
    '$TTL 300',
    ':127.0.3.2:Listed: $',
    '10.0.0.0/8',
    '10.1.0.0/16 :127.0.5.1:ISP $$ $',
    '10.2.0/24 :127.0.6.3:',
    '10.3.0.0/24 :127.0.6.2',
    '10.4.0.0/24 plain text',
    '10.5.0.0/24:127.0.4.0: #not a comment',
    '  10.6.0.0/24   # comment: default values',
    '!10.0.0.1',
    '!  10.0.0.2/32 ignored value',
    '127.0.0.2 :127.0.0.2:test point',
    '',
  ].join('\n');
  const parsed = parseRbldnsd(content, 'ip4trie');
  assert.deepEqual(parsed.entries.map(summary), [
    '10.0.0.0/8 127.0.3.2 "Listed: $"',
    '10.1.0.0/16 127.0.5.1 "ISP $$ $"',
    '10.2.0.0/24 127.0.6.3 ""',
    '10.3.0.0/24 127.0.6.2 "Listed: $"',
    '10.4.0.0/24 127.0.3.2 "plain text"',
    '10.5.0.0/24 127.0.4.0 "#not a comment"',
    '10.6.0.0/24 127.0.3.2 "Listed: $"',
    '!10.0.0.1/32',
    '!10.0.0.2/32',
  ]);
  assert.deepEqual(
    parsed.skipped.map((item) => item.line),
    [3, 4, 15],
  );
});

test('variables and the base template are expanded the way rbldnsd expands them at query time', () => {
  const content = [
    ':127.0.3.2:',
    '10.1.0.0/24 :127.0.3.1:before var $1 end',
    '$1 VAR',
    '$= [$=] for $',
    '10.2.0.0/24 :127.0.3.2:entry',
    '10.3.0.0/24 :127.0.3.2:',
    '10.4.0.0/24 :127.0.3.2:=raw $ text $1',
    '10.5.0.0/24 :127.0.3.2:$$1 $= x',
    '10.6.0.0/24 :127.0.3.2:cost $5 and $0',
  ].join('\n');
  assert.deepEqual(
    parseRbldnsd(content, 'ip4trie').entries.map((entry) => entry.text),
    [
      '[before var $$1 end] for $',
      '[entry] for $',
      '[$] for $',
      'raw $ text VAR',
      '[$$$$1 $$= x] for $',
      '[cost $$5 and $$0] for $',
    ],
  );
  // With a base template and no entry text, "$=" is the address: "$=1" would read as a variable.
  assert.deepEqual(problems(['$= [$=1]', '10.0.0.0/8 :127.0.3.2:'].join('\n'), 'ip4trie'), [
    "2: TXT cannot be served the same way: the address is followed by a digit or '='",
  ]);
  // A base template applies to every line, also those before it.
  assert.deepEqual(problems(['10.0.0.0/8 :127.0.3.2:x', '$= =$='].join('\n'), 'ip4trie'), [
    "1: TXT cannot be served the same way: text must not start with '=' (rbldnsd reads it as a template switch)",
  ]);
});

test('ip4set ranges and prefixes become CIDR blocks', () => {
  const content = [':127.0.3.2:', '10.0.0', '10.1.0.1-10.1.0.6', '10.2.0.1-3', '10.3-4', '10.8/13'].join(
    '\n',
  );
  assert.deepEqual(
    parseRbldnsd(content, 'ip4set').entries.map((entry) => entry.network),
    [
      '10.0.0.0/24',
      '10.1.0.1/32',
      '10.1.0.2/31',
      '10.1.0.4/31',
      '10.1.0.6/32',
      '10.2.0.1/32',
      '10.2.0.2/31',
      '10.3.0.0/16',
      '10.4.0.0/16',
      '10.8.0.0/13',
    ],
  );
});

test('what cannot be served the same way is refused, each with its line', () => {
  const content = [
    '10.0.0.0/8', // rbldnsd's default A 127.0.0.2 is no trust code
    ':127.0.3.2:ok',
    '10.0.0.5/24',
    '10.0.1.0/24 :127.1.3.2:',
    '10.0.2.0/24 :4.0:',
    '10.0.3.0/24 :127.0.3.2:=[$=1]',
    '$DATASET ip4set x',
    '10.0.4.0/24 :127.0.3.2:crlf\r',
    '127.0.0.3',
    '10.0.5.0/24 :127.0.3.2:a',
    '10.0.5.0/24 :127.0.3.2:b',
    '10',
    '$MAXRANGE4 /16',
    '11.0.0.0/15',
  ].join('\n');
  assert.deepEqual(problems(content, 'ip4trie'), [
    '1: A 127.0.0.2 is not a trust code 127.0.<category 2..15>.<trust 0..3>',
    '3: invalid range (non-zero host part)',
    '4: A 127.1.3.2 is not a trust code 127.0.<category 2..15>.<trust 0..3>',
    '5: A 4.0.0.0 is not a trust code 127.0.<category 2..15>.<trust 0..3>',
    "7: unsupported special entry '$DATASET'",
    '8: carriage return in the line (save the file with LF line endings)',
    '9: 127.0.0.3/32 is loopback; 127.0.0.2 and 127.0.0.1 are the RFC 5782 test points',
    '11: 10.0.5.0/24 is already given at line 10',
    '12: invalid address',
    '14: range larger than $MAXRANGE4 (65536 addresses)',
  ]);
});

test('ip4set overlaps that would answer twice are refused; same-value overlaps are fine', () => {
  const clash = [':127.0.3.2:', '10.7.0.0/23 :127.0.3.2:first', '10.7.0.0/24 :127.0.3.3:second'].join('\n');
  assert.deepEqual(problems(clash, 'ip4set'), [
    '3: overlaps line 2 with a different value; ip4set would answer both',
  ]);
  assert.deepEqual(problems(clash, 'ip4trie'), []);
  const fine = [':127.0.3.2:x', '10.7.0.0/23', '10.7.0.0/24', '10.0.0.0/8 :127.0.4.1:', '10.7.0.0/24'].join(
    '\n',
  );
  assert.deepEqual(problems(fine, 'ip4set'), []);
});

test('ip6trie takes full IPv6 networks and refuses abbreviated ones', () => {
  const parsed = parseRbldnsd(
    [':127.0.5.2:v6 $', '2001:db8::/32', '2001:db8:1::5 :127.0.6.1:host', '!2001:db8:1::6'].join('\n'),
    'ip6trie',
  );
  assert.deepEqual(parsed.entries.map(summary), [
    '2001:db8::/32 127.0.5.2 "v6 $"',
    '2001:db8:1::5/128 127.0.6.1 "host"',
    '!2001:db8:1::6/128',
  ]);
  assert.match(problems(':127.0.5.2:\n2001:21ab:c000/36\n', 'ip6trie')[0] ?? '', /^2: invalid IPv6 network/);
});

test('an export imports back to the same entries', async (t) => {
  const { store } = await tempStore(t);
  fillVariedList(store);
  const listed = (family: 4 | 6) =>
    store
      .all()
      .filter((entry) => entry.family === family && entry.status !== 'delisted')
      .map((entry) =>
        summary(entry.status === 'excluded' ? { network: entry.network, exclude: true } : entry),
      );
  for (const [format, family] of [
    ['ip4trie', 4],
    ['ip6trie', 6],
  ] as const) {
    const exported = exportRbldnsd(store.all(), format);
    const back = parseRbldnsd(exported.text, format);
    const delisted = store
      .all()
      .filter((e) => e.family === family && e.status === 'delisted')
      .map((e) => `!${e.network}`);
    assert.deepEqual(back.entries.map(summary).sort(), [...listed(family), ...delisted].sort(), format);
  }
  const set = exportRbldnsd(store.all(), 'ip4set');
  assert.match(set.text, /^10\.1\.2\.201-10\.1\.2\.255 :127\.0\.4\.0:Government$/m);
  assert.match(set.text, /^127\.0\.0\.2\/32 :127\.0\.0\.2:RFC 5782 test point$/m);
  assert.doesNotMatch(set.text, /198\.51\.100\.7/);
  assert.deepEqual(problems(set.text, 'ip4set'), []);
});

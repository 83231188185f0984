import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isSrsAddress, srsForward, srsReverse } from '../../../src/srs/srs.js';

// Vectors made by Mail::SRS 0.31 (Debian libmail-srs-perl) with test/unit/srs/make-vectors.pl.
interface Vectors {
  tool: string;
  forward: { sender: string; forwarder: string; secret: string | string[]; now: number; expected: string }[];
  reverse: {
    address: string;
    secret: string | string[];
    now: number;
    note: string;
    expected?: string;
    error?: string;
  }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/srs-vectors.json', import.meta.url), 'utf8'),
) as Vectors;
const DAY_MS = 86_400_000;
const seconds = (unix: number) => unix * 1000;

test('the fixture was made by the reference implementation and has cases of each kind', () => {
  assert.match(vectors.tool, /^Mail::SRS/);
  assert.ok(vectors.forward.length >= 10);
  assert.ok(vectors.reverse.some((vector) => vector.expected !== undefined));
  assert.ok(vectors.reverse.some((vector) => vector.error !== undefined));
});

for (const vector of vectors.forward) {
  test(`forward ${vector.sender} via ${vector.forwarder} at ${vector.now} matches Mail::SRS`, () => {
    assert.equal(
      srsForward(vector.sender, vector.forwarder, vector.secret, seconds(vector.now)),
      vector.expected,
    );
  });
}

/** Mail::SRS's error text -> our error kind. */
function expectedError(text: string): string {
  if (/Invalid timestamp/.test(text)) return 'expired';
  if (/Invalid hash/.test(text)) return 'bad-hash';
  return 'malformed';
}

for (const vector of vectors.reverse) {
  test(`reverse: ${vector.note} (as Mail::SRS)`, () => {
    const result = srsReverse(vector.address, vector.secret, seconds(vector.now));
    if (vector.expected !== undefined) {
      assert.deepEqual(result, { ok: true, address: vector.expected });
    } else {
      assert.equal(result.ok, false);
      assert.equal(result.ok ? undefined : result.error, expectedError(vector.error ?? ''));
    }
  });
}

test('forward then reverse round-trips, and an SRS1 reverses to the first hop, which reverses to the sender', () => {
  const now = Date.UTC(2025, 4, 1, 12);
  const first = srsForward('Ann.Lee+news@Origin.Example', 'hop1.example', 'one', now);
  assert.ok(isSrsAddress(first.slice(0, first.indexOf('@'))));
  const second = srsForward(first, 'hop2.example', 'two', now + DAY_MS);
  assert.match(second, /^SRS1=[A-Za-z0-9+/]{4}=hop1\.example==/);
  const back = srsReverse(second, 'two', now + 40 * DAY_MS);
  assert.deepEqual(back, { ok: true, address: first });
  assert.deepEqual(srsReverse(first, 'one', now + 2 * DAY_MS), {
    ok: true,
    address: 'Ann.Lee+news@Origin.Example',
  });
});

test('the null sender is never rewritten', () => {
  assert.equal(srsForward('', 'fwd.example', 'k', Date.now()), '');
});

test('a sender without a domain is an error, not a silent pass', () => {
  assert.throws(() => srsForward('nobody', 'fwd.example', 'k', Date.now()), /no domain/);
});

test('an empty secret is refused', () => {
  assert.throws(() => srsForward('a@b.example', 'fwd.example', '', Date.now()), /secret/);
  assert.throws(() => srsReverse('SRS0=abcd=AA=b.example=a@fwd.example', [], Date.now()), /secret/);
});

test('maxAgeDays is configurable', () => {
  const now = Date.UTC(2025, 0, 10);
  const address = srsForward('a@b.example', 'fwd.example', 'k', now);
  assert.equal(srsReverse(address, 'k', now + 3 * DAY_MS, 3).ok, true);
  const late = srsReverse(address, 'k', now + 4 * DAY_MS, 3);
  assert.deepEqual(late.ok ? undefined : late.error, 'expired');
});

test('malformed SRS addresses are refused as malformed', () => {
  const now = Date.UTC(2025, 0, 10);
  for (const address of [
    'SRS0=abcd=AA=example.com@fwd.example',
    'SRS0=abcd@fwd.example',
    'SRS1=abcd=first.example@fwd.example',
    'SRS1=first.example==abcd=AA=d=l@fwd.example',
    'no-at-sign',
  ]) {
    const result = srsReverse(address, 'k', now);
    assert.equal(result.ok ? 'ok' : result.error, 'malformed', address);
  }
});

test('isSrsAddress knows both tags and all three separators, in any case', () => {
  for (const local of ['SRS0=h=TT=d=l', 'srs0+h', 'SRS1-h', 'Srs1=h'])
    assert.equal(isSrsAddress(local), true);
  for (const local of ['SRS2=h', 'SRS0', 'alice', 'xSRS0=h', 'SRS0_h'])
    assert.equal(isSrsAddress(local), false);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  compareGenerations,
  cookieFor,
  decodeCookie,
  deriveChain,
  encodeCookie,
  hashBack,
  MAX_HASHES,
  normalizeZone,
} from '../../../src/gen/chain.js';

// Written once by test/fixtures/gen/make-vectors.py (python3 hashlib), an independent implementation.
const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/gen/chain-vectors.json', import.meta.url), 'utf8'),
) as {
  zone: string;
  length: number;
  seed: string;
  k: string[];
  kBase64: string[];
};
const seed = Buffer.from(vectors.seed, 'hex');
const k = vectors.k.map((hex) => Buffer.from(hex, 'hex'));
const ZONE = vectors.zone;

function at(epoch: number): Buffer {
  const cookie = k[epoch];
  assert.ok(cookie, `vector k[${epoch}] exists`);
  return cookie;
}

test('the vectors cover k[0] .. k[L] with k[L] = seed', () => {
  assert.equal(vectors.length, 16);
  assert.equal(k.length, 17);
  assert.deepEqual(at(16), seed);
});

test('deriveChain reproduces every vector of the independent implementation', () => {
  const chain = deriveChain(seed, ZONE, vectors.length);
  assert.deepEqual(
    chain.map((cookie) => cookie.toString('hex')),
    vectors.k,
  );
});

test('cookieFor gives each epoch the vector k[e], and base64 matches too', () => {
  for (let epoch = 0; epoch <= vectors.length; epoch++) {
    const cookie = cookieFor(seed, ZONE, vectors.length, epoch);
    assert.equal(cookie.toString('hex'), vectors.k[epoch], `epoch ${epoch}`);
    assert.equal(encodeCookie(cookie), vectors.kBase64[epoch], `epoch ${epoch} base64`);
  }
});

test('the zone is part of the hash and is lower-cased first', () => {
  assert.deepEqual(cookieFor(seed, 'GEN.Test.', vectors.length, 3), at(3));
  assert.notDeepEqual(cookieFor(seed, 'other.test', vectors.length, 3), at(3));
});

test('hashBack walks from k[e] to k[e - steps]', () => {
  assert.deepEqual(hashBack(at(9), ZONE, 9, 0), at(9));
  assert.deepEqual(hashBack(at(9), ZONE, 9, 1), at(8));
  assert.deepEqual(hashBack(at(9), ZONE, 9, 9), at(0));
  assert.deepEqual(hashBack(at(16), ZONE, 16, 11), at(5));
  assert.throws(() => hashBack(at(3), ZONE, 3, 4), RangeError);
});

test('the epoch index is bound into each link: k[e] hashed as if from another epoch misses', () => {
  assert.notDeepEqual(hashBack(at(9), ZONE, 10, 1), at(8));
});

const base = { zone: ZONE, maxAge: 2 };

test('same epoch and same cookie pass with 0 generations newer', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 5,
    ownCookie: at(5),
    peerEpoch: 5,
    peerCookie: at(5),
  });
  assert.deepEqual(result, { result: 'pass', generationsNewer: 0 });
});

test('a newer peer across a gap passes: its cookie hashes down to ours', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: 11,
    peerCookie: at(11),
  });
  assert.deepEqual(result, { result: 'pass', generationsNewer: 8 });
});

test('an older peer within maxAge passes', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 7,
    ownCookie: at(7),
    peerEpoch: 5,
    peerCookie: at(5),
  });
  assert.deepEqual(result, { result: 'pass', generationsOlder: 2 });
});

test('an older peer beyond maxAge fails as too old, naming how many generations', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 7,
    ownCookie: at(7),
    peerEpoch: 4,
    peerCookie: at(4),
  });
  assert.deepEqual(result, { result: 'fail', reason: 'too-old', generationsOlder: 3 });
});

test('a forged cookie fails, whether it claims to be newer, equal or older', () => {
  const forged = Buffer.alloc(32, 0x42);
  for (const peerEpoch of [9, 7, 6]) {
    const result = compareGenerations({
      ...base,
      ownEpoch: 7,
      ownCookie: at(7),
      peerEpoch,
      peerCookie: forged,
    });
    assert.deepEqual(result, { result: 'fail', reason: 'not-on-chain' }, `peer epoch ${peerEpoch}`);
  }
});

test('a real cookie presented under the wrong epoch fails', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: 9,
    peerCookie: at(8),
  });
  assert.deepEqual(result, { result: 'fail', reason: 'not-on-chain' });
});

test('a cookie of the same seed under another zone is not on our chain', () => {
  const foreign = cookieFor(seed, 'other.test', vectors.length, 9);
  const result = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: 9,
    peerCookie: foreign,
  });
  assert.deepEqual(result, { result: 'fail', reason: 'not-on-chain' });
});

test('an absurd epoch gap fails without hashing that far', () => {
  const result = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: 3 + MAX_HASHES + 1,
    peerCookie: at(9),
  });
  assert.deepEqual(result, { result: 'fail', reason: 'not-on-chain' });
});

test('a peer cookie of the wrong length or a negative epoch fails instead of throwing', () => {
  const short = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: 3,
    peerCookie: at(3).subarray(1),
  });
  assert.deepEqual(short, { result: 'fail', reason: 'not-on-chain' });
  const negative = compareGenerations({
    ...base,
    ownEpoch: 3,
    ownCookie: at(3),
    peerEpoch: -1,
    peerCookie: at(3),
  });
  assert.deepEqual(negative, { result: 'fail', reason: 'not-on-chain' });
});

test('decodeCookie accepts only canonical base64 of 32 bytes', () => {
  const text = vectors.kBase64[4] ?? '';
  assert.deepEqual(decodeCookie(text), at(4));
  assert.equal(decodeCookie(text.slice(0, -1)), undefined);
  assert.equal(decodeCookie(`${text}=`), undefined);
  assert.equal(decodeCookie(Buffer.alloc(31).toString('base64')), undefined);
  // Same bytes, but one of the two unused low bits of the last character flipped: not canonical.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const last = alphabet.indexOf(text.at(-2) ?? '');
  const twisted = `${text.slice(0, -2)}${alphabet[last ^ 1]}=`;
  assert.deepEqual(Buffer.from(twisted, 'base64'), at(4));
  assert.equal(decodeCookie(twisted), undefined);
});

test('normalizeZone refuses names that are not ASCII host names', () => {
  assert.equal(normalizeZone('Gen.Test.'), 'gen.test');
  for (const bad of ['', 'a..b', 'bücher.test', 'a b.test', '-a.test']) {
    assert.throws(() => normalizeZone(bad), /not a valid zone name/, bad);
  }
});

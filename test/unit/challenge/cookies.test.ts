import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  cleanKeyword,
  confirmCookie,
  DATED_TIMEOUT_SECONDS,
  datedCookie,
  keywordCookie,
  makeTaggedAddress,
  parseTaggedAddress,
  senderCookie,
  tmdaMac,
  verifyConfirm,
  verifyDated,
  verifyKeyword,
  verifySender,
} from '../../../src/challenge/cookies.js';

// Every vector of /work/shared/testdata/tmda-cookies.md (from TMDA's test/test-cookie.py).
const KEY = 'b7fdc8a5afe5f364c87e2f984cbbd27450255675';
const TS = 1262937386;
const PID = 12345;

test('the MAC is the first 3 bytes of HMAC-SHA1 over the raw 20-byte key', () => {
  const full = createHmac('sha1', Buffer.from(KEY, 'hex')).update('126293738612345').digest('hex');
  assert.equal(full, 'a451671d26d15172f749b6b050920a920796d0ef');
  assert.equal(tmdaMac(KEY, '126293738612345'), 'a45167');
  assert.equal(tmdaMac(Buffer.from(KEY, 'hex'), '126293738612345'), 'a45167');
});

test('TMDA vectors: confirm cookies', () => {
  assert.equal(confirmCookie(KEY, TS, PID), '1262937386.12345.a45167');
  assert.equal(confirmCookie(KEY, TS, PID, 'keyword'), '1262937386.12345.f5ee35');
  assert.equal(confirmCookie(KEY, TS, PID, 'accept'), '1262937386.12345.77f502');
});

test('TMDA vectors: dated cookies (5 days and 1 minute)', () => {
  assert.equal(TS + DATED_TIMEOUT_SECONDS, 1263369386);
  assert.equal(datedCookie(KEY, TS + DATED_TIMEOUT_SECONDS), '1263369386.df2137');
  assert.equal(datedCookie(KEY, TS + 60), '1262937446.926a58');
});

test('TMDA vectors: sender cookies are over the lower-cased address', () => {
  assert.equal(senderCookie(KEY, 'Sender@REmote.com'), '23834d');
  assert.equal(senderCookie(KEY, 'Sender@Example.COM'), 'a16570');
});

test('TMDA vectors: keyword cookies replace the delimiter with "?"', () => {
  assert.equal(keywordCookie(KEY, 'keyword-test'), 'keyword?test.0de87a');
  assert.equal(keywordCookie(KEY, 'list-x'), 'list?x.d46ee1');
});

test('TMDA vectors: tagged addresses', () => {
  assert.equal(
    makeTaggedAddress('testuser', 'confirm', confirmCookie(KEY, TS, PID), 'testsite.com'),
    'testuser-confirm-1262937386.12345.a45167@testsite.com',
  );
  assert.equal(
    makeTaggedAddress('testuser', 'dated', datedCookie(KEY, TS + DATED_TIMEOUT_SECONDS), 'testsite.com'),
    'testuser-dated-1263369386.df2137@testsite.com',
  );
  assert.equal(
    makeTaggedAddress('testuser', 'sender', senderCookie(KEY, 'Sender@REmote.com'), 'testsite.com'),
    'testuser-sender-23834d@testsite.com',
  );
});

test('keyword cleaning follows TMDA: outside the atom class becomes "?", and "," "." stay (its regex range)', () => {
  assert.equal(cleanKeyword('a b@c"d'), 'a?b?c?d');
  assert.equal(cleanKeyword("x!#$%&'*+,./=?^_`{|}~y"), "x!#$%&'*+,./=?^_`{|}~y");
  assert.equal(cleanKeyword('ä-😀'), '???');
  assert.equal(keywordCookie(KEY, 'List-X'), keywordCookie(KEY, 'list-x'));
});

test('confirm cookies verify with their keyword and not with another', () => {
  assert.deepEqual(verifyConfirm(KEY, '1262937386.12345.77f502', 'accept'), { ok: true, ts: TS, pid: PID });
  assert.deepEqual(verifyConfirm(KEY, '1262937386.12345.a45167'), { ok: true, ts: TS, pid: PID });
  assert.deepEqual(verifyConfirm(KEY, '1262937386.12345.77f502'), { ok: false, reason: 'bad-mac' });
  assert.deepEqual(verifyConfirm(KEY, '1262937386.12346.77f502', 'accept'), { ok: false, reason: 'bad-mac' });
  assert.deepEqual(verifyConfirm(KEY, '1262937386.77f502'), { ok: false, reason: 'malformed' });
});

test('a dated cookie verifies until its expiry and not after', () => {
  const cookie = '1262937446.926a58';
  assert.deepEqual(verifyDated(KEY, cookie, TS), { ok: true, expires: 1262937446 });
  assert.deepEqual(verifyDated(KEY, cookie, 1262937446), { ok: true, expires: 1262937446 });
  assert.deepEqual(verifyDated(KEY, cookie, 1262937447), { ok: false, reason: 'expired' });
  assert.deepEqual(verifyDated(KEY, '1362937446.926a58', TS), { ok: false, reason: 'bad-mac' });
  assert.deepEqual(verifyDated(KEY, '1262937446', TS), { ok: false, reason: 'malformed' });
});

test('a sender cookie verifies for the address, its domain and parent domains', () => {
  assert.deepEqual(verifySender(KEY, '23834d', 'SENDER@remote.COM'), { ok: true });
  assert.deepEqual(verifySender(KEY, '23834d', 'other@remote.com'), { ok: false, reason: 'bad-mac' });
  const forDomain = senderCookie(KEY, 'example.com');
  assert.deepEqual(verifySender(KEY, forDomain, 'anyone@mail.eu.Example.com'), { ok: true });
  assert.deepEqual(verifySender(KEY, forDomain, 'anyone@example.org'), { ok: false, reason: 'bad-mac' });
  assert.deepEqual(verifySender(KEY, 'xyz', 'a@example.com'), { ok: false, reason: 'malformed' });
});

test('a keyword cookie verifies and yields its keyword', () => {
  assert.deepEqual(verifyKeyword(KEY, 'keyword?test.0de87a'), { ok: true, keyword: 'keyword?test' });
  assert.deepEqual(verifyKeyword(KEY, 'keyword?tesT.0de87a'), { ok: false, reason: 'bad-mac' });
  assert.deepEqual(verifyKeyword(KEY, '.0de87a'), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifyKeyword(KEY, 'keyword'), { ok: false, reason: 'malformed' });
});

test('tagged addresses round trip, even with "-" in the local part', () => {
  for (const [local, tag, cookie] of [
    ['testuser', 'confirm', '1262937386.12345.a45167'],
    ['john-doe', 'dated', '1263369386.df2137'],
    ['a', 'sender', '23834d'],
    ['list-owner', 'keyword', 'list?x.d46ee1'],
  ] as const) {
    const address = makeTaggedAddress(local, tag, cookie, 'testsite.com');
    assert.deepEqual(parseTaggedAddress(address), { local, tag, cookie, domain: 'testsite.com' }, address);
  }
});

test('parseTaggedAddress lower-cases tag and cookie, and refuses untagged addresses', () => {
  assert.deepEqual(parseTaggedAddress('TestUser-SENDER-23834D@TestSite.com'), {
    local: 'TestUser',
    tag: 'sender',
    cookie: '23834d',
    domain: 'testsite.com',
  });
  for (const address of [
    'testuser@testsite.com',
    'a-b@x.test',
    'a-other-123@x.test',
    '-dated-1.abc@x.test',
    'a-dated-@x.test',
    'a-dated-1.abc',
  ]) {
    assert.equal(parseTaggedAddress(address), undefined, address);
  }
});

test('a key that is not 20 bytes is refused', () => {
  assert.throws(() => tmdaMac('abcd', 'x'), /40 hexadecimal/);
  assert.throws(() => tmdaMac(Buffer.alloc(16), 'x'), /20 bytes/);
});

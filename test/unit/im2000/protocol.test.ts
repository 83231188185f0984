import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson, signObject, verifyObject } from '../../../src/im2000/canonical.js';
import {
  generateSigningKey,
  im2000DnsRecords,
  keyRecordText,
  parseKeyRecord,
  publicKeyBase64,
} from '../../../src/im2000/keys.js';
import { subjectOf } from '../../../src/im2000/outbox.js';

test('canonical JSON sorts members at every depth, has no whitespace and refuses non-integers', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [true, 'x"y'], c: 'é' } }),
    '{"a":{"c":"é","d":[true,"x\\"y"]},"b":1}',
  );
  assert.equal(canonicalJson({ z: 0, a: 0 }), canonicalJson({ a: 0, z: 0 }));
  assert.throws(() => canonicalJson({ a: 1.5 }), TypeError);
});

test('a signed object verifies whatever its member order; any change or another key fails', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();
  const signed = signObject({ v: 'im1', id: 'abcdefgh', size: 12 }, key);
  const publicKey = createPublicKey(key);
  assert.equal(
    verifyObject({ size: 12, signature: signed.signature, id: 'abcdefgh', v: 'im1' }, [publicKey]),
    true,
  );
  assert.equal(verifyObject({ ...signed, size: 13 }, [publicKey]), false);
  assert.equal(verifyObject(signed, [createPublicKey(other)]), false);
  assert.equal(
    verifyObject(signed, [createPublicKey(other), publicKey]),
    true,
    'any published key may verify',
  );
  assert.equal(verifyObject({ ...signed, signature: 'AAAA' }, [publicKey]), false);
});

test('key TXT records round-trip; malformed ones are ignored', () => {
  const key = generateSigningKey();
  const text = keyRecordText(key);
  assert.match(text, /^v=im1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  assert.equal(publicKeyBase64(parseKeyRecord(text) ?? key), publicKeyBase64(key));
  assert.ok(parseKeyRecord(`  v=im1 ;k=ed25519;  p=${publicKeyBase64(key)}  `));
  for (const bad of [
    'v=im2; p=AAAA',
    `k=ed25519; v=im1; p=${publicKeyBase64(key)}`,
    'v=im1; k=rsa; p=AAAA',
    'v=im1; p=AAAA',
  ]) {
    assert.equal(parseKeyRecord(bad), undefined, bad);
  }
  const lines = im2000DnsRecords({
    domain: 'alice.example',
    postOfficeHost: 'po.alice.example',
    port: 8443,
    key,
    ttl: 300,
  });
  assert.deepEqual(lines, [
    '_im2000._tcp.alice.example. 300 IN SRV 10 0 8443 po.alice.example.',
    `_im2000key.alice.example. 300 IN TXT "${text}"`,
  ]);
});

test('the subject digest is the unfolded Subject header, at most 200 characters, from the header only', () => {
  assert.equal(
    subjectOf(Buffer.from('From: a\r\nSubject: Hello\r\n  world\r\n\r\nSubject: body')),
    'Hello world',
  );
  assert.equal(subjectOf(Buffer.from('From: a\r\n\r\nSubject: in the body')), '');
  assert.equal(subjectOf(Buffer.from(`Subject: ${'x'.repeat(300)}\r\n\r\n`)).length, 200);
});

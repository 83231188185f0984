import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { signMessage } from '../../../src/dkim/sign.js';
import { DOMAIN, sampleMessage, testKeys, txtResolver } from './fixtures/keys.js';

const NOW = Date.UTC(2026, 10, 23, 19, 30);

async function verify(message: Buffer, resolver: ReturnType<typeof txtResolver>) {
  const result = await dkimVerify(message, { resolver, curTime: new Date(NOW + 60_000) });
  return result.results.map((r) => ({ selector: r.selector, algo: r.algo, result: r.status.result }));
}

function signatureHeaders(message: Buffer): string[] {
  const text = message.toString('latin1');
  return [...text.matchAll(/^DKIM-Signature:.*(?:\r\n[ \t].*)*/gm)].map((match) => match[0]);
}

test('one signature per key, RSA and Ed25519, and mailauth verifies both', async () => {
  const { rsa, ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [rsa, ed25519], { domain: DOMAIN, now: NOW });
  const headers = signatureHeaders(signed).map((header) => header.replace(/\r\n\t/g, ' '));
  assert.equal(headers.length, 2);
  assert.match(headers[0] ?? '', /a=rsa-sha256; c=relaxed\/relaxed; d=example\.org; s=rsa1;/);
  assert.match(headers[1] ?? '', /a=ed25519-sha256; c=relaxed\/relaxed; d=example\.org; s=ed1;/);
  assert.match(headers[0] ?? '', new RegExp(`t=${NOW / 1000};`));
  assert.deepEqual(await verify(signed, txtResolver([rsa, ed25519])), [
    { selector: 'rsa1', algo: 'rsa-sha256', result: 'pass' },
    { selector: 'ed1', algo: 'ed25519-sha256', result: 'pass' },
  ]);
});

test('the message itself is unchanged below the signatures', async () => {
  const { ed25519 } = await testKeys;
  const message = sampleMessage();
  const signed = await signMessage(message, [ed25519], { domain: DOMAIN, now: NOW });
  assert.ok(signed.subarray(signed.length - message.length).equals(message));
});

test('h= lists the default fields present, From oversigned, never Received', async () => {
  const { ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [ed25519], { domain: DOMAIN, now: NOW });
  const h = /h=([^;]+);/.exec((signatureHeaders(signed)[0] ?? '').replace(/\r\n\t/g, ''))?.[1];
  assert.equal(
    h,
    'from:from:subject:date:message-id:to:cc:mime-version:content-type:content-transfer-encoding',
  );
});

test('changing a signed header or the body after signing fails verification', async () => {
  const { rsa, ed25519 } = await testKeys;
  const resolver = txtResolver([rsa, ed25519]);
  const signed = (await signMessage(sampleMessage(), [rsa, ed25519], { domain: DOMAIN, now: NOW })).toString(
    'latin1',
  );
  const tamperedSubject = Buffer.from(signed.replace('Subject: Quarterly', 'Subject: Quarterlies'), 'latin1');
  assert.deepEqual(
    (await verify(tamperedSubject, resolver)).map((r) => r.result),
    ['fail', 'fail'],
  );
  // A body hash mismatch is "neutral" in mailauth's words ("body hash did not verify"): not a pass.
  const tamperedBody = Buffer.from(signed.replace('all of them', 'none of them'), 'latin1');
  assert.deepEqual(
    (await verify(tamperedBody, resolver)).map((r) => r.result),
    ['neutral', 'neutral'],
  );
});

test('a second From added after signing breaks the signature (oversigning)', async () => {
  const { ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [ed25519], { domain: DOMAIN, now: NOW });
  const text = signed.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const withSecondFrom = Buffer.from(
    `${text.slice(0, end)}\r\nFrom: mallory@evil.test${text.slice(end)}`,
    'latin1',
  );
  assert.deepEqual(
    (await verify(withSecondFrom, txtResolver([ed25519]))).map((r) => r.result),
    ['fail'],
  );
});

test('whitespace changes that relaxed canonicalization forgives still verify', async () => {
  const { rsa } = await testKeys;
  const signed = (await signMessage(sampleMessage(), [rsa], { domain: DOMAIN, now: NOW })).toString('latin1');
  const rewrapped = Buffer.from(
    signed
      .replace('Subject: Quarterly figures,\r\n\tfolded', 'subject:   Quarterly figures, folded')
      .replace(/are in:\t/g, 'are in: '),
    'latin1',
  );
  assert.deepEqual(
    (await verify(rewrapped, txtResolver([rsa]))).map((r) => r.result),
    ['pass'],
  );
});

test('a header list of our own, and oversigning of absent fields', async () => {
  const { ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [ed25519], {
    domain: DOMAIN,
    now: NOW,
    headerList: ['Subject', 'Reply-To'],
    oversign: ['reply-to'],
  });
  const header = (signatureHeaders(signed)[0] ?? '').replace(/\r\n\t/g, '');
  // From is always signed, even when the list leaves it out.
  assert.match(header, /h=from:subject:reply-to;/);
  assert.deepEqual(
    (await verify(signed, txtResolver([ed25519]))).map((r) => r.result),
    ['pass'],
  );
  const text = signed.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const withReplyTo = Buffer.from(
    `${text.slice(0, end)}\r\nReply-To: mallory@evil.test${text.slice(end)}`,
    'latin1',
  );
  assert.deepEqual(
    (await verify(withReplyTo, txtResolver([ed25519]))).map((r) => r.result),
    ['fail'],
  );
});

test('a message with LF line endings is signed as it will travel, with CRLF', async () => {
  const { ed25519 } = await testKeys;
  const lf = Buffer.from(sampleMessage(600).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  const signed = await signMessage(lf, [ed25519], { domain: DOMAIN, now: NOW });
  const asSent = Buffer.from(signed.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  assert.deepEqual(
    (await verify(asSent, txtResolver([ed25519]))).map((r) => r.result),
    ['pass'],
  );
});

test('an empty body and a message without a body sign and verify', async () => {
  const { rsa } = await testKeys;
  for (const message of [
    'From: a@example.org\r\nSubject: x\r\n\r\n',
    'From: a@example.org\r\nSubject: x\r\n',
  ]) {
    const signed = await signMessage(Buffer.from(message), [rsa], { domain: DOMAIN, now: NOW });
    assert.deepEqual(
      (await verify(signed, txtResolver([rsa]))).map((r) => r.result),
      ['pass'],
      message,
    );
  }
});

test('no From header: refused; no keys: the message comes back as it was', async () => {
  const { rsa } = await testKeys;
  await assert.rejects(
    signMessage(Buffer.from('Subject: x\r\n\r\nbody\r\n'), [rsa], { domain: DOMAIN }),
    /without a From header/,
  );
  const message = sampleMessage(100);
  assert.equal(await signMessage(message, [], { domain: DOMAIN }), message);
  await assert.rejects(signMessage(message, [rsa], { domain: 'bad domain' }), /is not a domain name/);
});

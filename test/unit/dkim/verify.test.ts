import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { mailauthResolver } from '../../../src/checks/dkim/mailauth-resolver.js';
import { signMessage } from '../../../src/dkim/sign.js';
import { type MessageVerdict, UNSUPPORTED, verifyDkimSignatures } from '../../../src/dkim/verify.js';
import type { Resolver } from '../../../src/dns/types.js';
import { startTestDns } from '../../helpers/dns.js';
import { ed25519Key, keyRecordLine, plainMessage, rsaKey, type SigningKey } from '../checks/dkim-fixtures.js';

// Our verifier is checked against mailauth's strict mode (what the dkim check used before) on the
// same messages and the same DNS: every signature must get the same result, reason, policy rule
// and unsigned byte count. Signatures come from our signer, mailauth's signer and dkimpy.

const rsa = rsaKey();
const ed = ed25519Key();
const weak = rsaKey(512);
// Verification happens ten minutes after signing, so an x= five minutes after signing has passed.
const SIGNED_AT = Date.now();
const NOW = SIGNED_AT + 10 * 60_000;

const ZONES = `
  $ORIGIN sender.test.
  ${keyRecordLine('rsa._domainkey', rsa)}
  ${keyRecordLine('ed._domainkey', ed)}
  ${keyRecordLine('weak._domainkey', weak)}
  wrongtype._domainkey TXT "${ed.record.replace('k=ed25519', 'k=rsa')}"
  noemail._domainkey TXT "${rsa.record}; s=other"
  sha1only._domainkey TXT "v=DKIM1; h=sha1; ${rsa.record.slice(rsa.record.indexOf('k='))}"
  strict._domainkey TXT "${rsa.record}; t=s"
  revoked._domainkey TXT "v=DKIM1; k=rsa; p="
  badversion._domainkey TXT "v=DKIM2; k=rsa; p=${rsa.record.slice(rsa.record.indexOf('p=') + 2)}"
`;

const message = plainMessage('Alice <alice@sender.test>', 'Hello,\r\n\r\nthis  is a\ttest.  \r\n\r\n\r\n');

interface MailauthSigner {
  selector: string;
  key: SigningKey;
  domain?: string;
  canonicalization?: string;
  algorithm?: string;
  maxBodyLength?: number;
  expires?: number;
}

async function mailauthSigned(input: Buffer, signer: MailauthSigner): Promise<Buffer> {
  const { key, domain = 'sender.test', canonicalization = 'relaxed/relaxed', ...rest } = signer;
  const signature = { signingDomain: domain, privateKey: key.privateKeyPem, ...rest };
  const { signatures, errors } = await dkimSign(input, {
    ...signature,
    canonicalization,
    signatureData: [signature],
  });
  if (errors.length > 0 || signatures === '') throw new Error(`signing failed: ${String(errors[0]?.err)}`);
  return Buffer.concat([Buffer.from(signatures), input]);
}

const PYTHON = '/usr/bin/python3';
const noDkimpy =
  spawnSync(PYTHON, ['-c', 'import dkim, nacl'], { stdio: 'ignore' }).status !== 0 &&
  'dkimpy (/usr/bin/python3 with python3-dkim) not installed';

const DKIMPY_SIGN = `
import sys, json, dkim
cfg = json.loads(sys.argv[1])
message = sys.stdin.buffer.read()
signature = dkim.sign(message, cfg['selector'].encode(), b'sender.test', cfg['key'].encode(),
    canonicalize=tuple(c.encode() for c in cfg['c']), signature_algorithm=cfg['a'].encode(),
    identity=cfg.get('i', '').encode() or None, length=cfg.get('l', False))
sys.stdout.buffer.write(signature + message)
`;

function dkimpySigned(
  input: Buffer,
  config: { selector: string; key: string; c: [string, string]; a: string; i?: string; l?: boolean },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', DKIMPY_SIGN, JSON.stringify(config)]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(Buffer.concat(err).toString())),
    );
    child.stdin.end(input);
  });
}

/** Verifies with both verifiers; asserts they agree and that ours covered the message; returns ours. */
async function bothAgree(dns: Resolver, signed: Buffer, minKeyBits = 1024, label = '') {
  const ours = await verifyDkimSignatures(signed, dns, { minKeyBits, now: NOW });
  assert.notEqual(ours, UNSUPPORTED, `our verifier covers this message ${label}`);
  const theirs = await dkimVerify(signed, {
    resolver: mailauthResolver(dns),
    minBitLength: minKeyBits,
    curTime: NOW,
    strict: true,
  });
  const summary = (ours as MessageVerdict).signatures.map((s) => ({
    d: s.domain,
    s: s.selector,
    result: s.result,
    comment: s.comment,
    rule: s.policyRule,
    underSized: s.underSized,
  }));
  const expected = theirs.results.map((s) => ({
    d: s.signingDomain,
    s: s.selector,
    result: s.status.result,
    comment: s.status.comment,
    rule: s.status.policy?.['dkim-rules'],
    underSized: s.status.underSized,
  }));
  assert.deepEqual(summary, expected, label);
  return (ours as MessageVerdict).signatures;
}

test('our verifier agrees with mailauth on our own RSA and Ed25519 signatures', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const keys = [
    {
      selector: 'rsa',
      algorithm: 'rsa-sha256' as const,
      privateKey: createPrivateKey(rsa.privateKeyPem),
      publicKeyDnsValue: '',
    },
    {
      selector: 'ed',
      algorithm: 'ed25519-sha256' as const,
      privateKey: createPrivateKey(ed.privateKeyPem),
      publicKeyDnsValue: '',
    },
  ];
  const signed = await signMessage(message, keys, { domain: 'sender.test', now: NOW });
  const verdicts = await bothAgree(resolver, signed);
  assert.deepEqual(
    verdicts.map((v) => [v.selector, v.result]),
    [
      ['rsa', 'pass'],
      ['ed', 'pass'],
    ],
  );
  const tampered = Buffer.from(
    signed.toString('latin1').replace('Subject: test message', 'Subject: test massage'),
    'latin1',
  );
  assert.deepEqual(
    (await bothAgree(resolver, tampered)).map((v) => [v.result, v.comment]),
    [
      ['fail', 'bad signature'],
      ['fail', 'bad signature'],
    ],
  );
});

test('every canonicalization pair verifies, and a changed body fails on the body hash', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  for (const canonicalization of ['simple/simple', 'relaxed/simple', 'simple/relaxed', 'relaxed/relaxed']) {
    const signed = await mailauthSigned(message, { selector: 'rsa', key: rsa, canonicalization });
    assert.equal((await bothAgree(resolver, signed))[0]?.result, 'pass', canonicalization);
    const changed = Buffer.from(signed.toString('latin1').replace('this  is', 'this is'), 'latin1');
    const verdict = (await bothAgree(resolver, changed))[0];
    assert.equal(verdict?.result, canonicalization.endsWith('/relaxed') ? 'pass' : 'fail', canonicalization);
  }
});

test('l= limits, expiry, rsa-sha1, h= without From and short keys get mailauth strict verdicts', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const cases: [string, MailauthSigner, string, string | undefined][] = [
    ['l= covers part', { selector: 'rsa', key: rsa, maxBodyLength: 8 }, 'pass', undefined],
    ['expired', { selector: 'rsa', key: rsa, expires: SIGNED_AT + 5 * 60_000 }, 'neutral', 'expired'],
    ['not yet expired', { selector: 'rsa', key: rsa, expires: SIGNED_AT + 60 * 60_000 }, 'pass', undefined],
    ['key too short', { selector: 'weak', key: weak }, 'policy', undefined],
    ['wrong key type', { selector: 'wrongtype', key: rsa }, 'neutral', 'unknown key type'],
    ['key not for email', { selector: 'noemail', key: rsa }, 'neutral', 'key not for email'],
    ['key allows sha1 only', { selector: 'sha1only', key: rsa }, 'neutral', 'inappropriate hash algorithm'],
    ['revoked key', { selector: 'revoked', key: rsa }, 'neutral', 'invalid public key'],
    ['bad key version', { selector: 'badversion', key: rsa }, 'neutral', 'unknown key version'],
    ['no key record', { selector: 'gone', key: rsa }, 'neutral', 'no key'],
    [
      'domain without DNS',
      { selector: 'rsa', key: rsa, domain: 'nowhere.invalid' },
      'temperror',
      'DNS failure: EREFUSED',
    ],
  ];
  for (const [label, signer, result, comment] of cases) {
    const signed = await mailauthSigned(message, signer);
    const verdict = (await bothAgree(resolver, signed, 1024, label))[0];
    assert.equal(verdict?.result, result, label);
    assert.equal(verdict?.comment, comment, label);
  }
  const signedFrom = await mailauthSigned(message, { selector: 'rsa', key: rsa });
  const withoutFrom = Buffer.from(
    signedFrom.toString('latin1').replace(/h=[^;]*;/, 'h=To:Subject;'),
    'latin1',
  );
  const unsignedFrom = (await bothAgree(resolver, withoutFrom))[0];
  assert.deepEqual([unsignedFrom?.result, unsignedFrom?.comment], ['neutral', 'From field not signed']);
  const partial = await mailauthSigned(message, { selector: 'rsa', key: rsa, maxBodyLength: 8 });
  assert.ok(((await bothAgree(resolver, partial))[0]?.underSized ?? 0) > 0, 'unsigned bytes are counted');
  const appended = Buffer.concat([partial, Buffer.from('Click here: http://evil.test/\r\n')]);
  assert.equal((await bothAgree(resolver, appended))[0]?.result, 'pass');
  const strictKeys = await mailauthSigned(message, { selector: 'rsa', key: rsa });
  assert.equal((await bothAgree(resolver, strictKeys, 4096))[0]?.policyRule, 'weak-key');
});

test('dkimpy signatures: simple bodies, l=, i= and rsa-sha1 agree with mailauth', {
  skip: noDkimpy,
}, async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const cases: [string, Parameters<typeof dkimpySigned>[1], string, string | undefined][] = [
    [
      'simple/simple',
      { selector: 'rsa', key: rsa.dkimpyKey, c: ['simple', 'simple'], a: 'rsa-sha256' },
      'pass',
      undefined,
    ],
    [
      'ed25519 relaxed/simple',
      { selector: 'ed', key: ed.dkimpyKey, c: ['relaxed', 'simple'], a: 'ed25519-sha256' },
      'pass',
      undefined,
    ],
    [
      'l= whole body',
      { selector: 'rsa', key: rsa.dkimpyKey, c: ['relaxed', 'relaxed'], a: 'rsa-sha256', l: true },
      'pass',
      undefined,
    ],
    [
      'i= subdomain',
      {
        selector: 'rsa',
        key: rsa.dkimpyKey,
        c: ['relaxed', 'relaxed'],
        a: 'rsa-sha256',
        i: 'bob@lists.sender.test',
      },
      'pass',
      undefined,
    ],
    [
      'i= subdomain, key t=s',
      {
        selector: 'strict',
        key: rsa.dkimpyKey,
        c: ['relaxed', 'relaxed'],
        a: 'rsa-sha256',
        i: 'bob@lists.sender.test',
      },
      'neutral',
      'domain mismatch',
    ],
    [
      'rsa-sha1',
      { selector: 'rsa', key: rsa.dkimpyKey, c: ['relaxed', 'relaxed'], a: 'rsa-sha1' },
      'policy',
      'weak algorithm',
    ],
  ];
  for (const [label, config, result, comment] of cases) {
    const verdict = (await bothAgree(resolver, await dkimpySigned(message, config)))[0];
    assert.equal(verdict?.result, result, label);
    assert.equal(verdict?.comment, comment, label);
  }
});

test('unsigned messages have no verdicts; ARC fields and unusual syntax are left to mailauth', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  const unsigned = await verifyDkimSignatures(message, resolver, { minKeyBits: 1024, now: NOW });
  assert.notEqual(unsigned, UNSUPPORTED);
  assert.deepEqual((unsigned as MessageVerdict).signatures, []);
  const signed = await mailauthSigned(message, { selector: 'rsa', key: rsa });
  const withArc = Buffer.concat([
    Buffer.from('ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.test; s=s; b=\r\n'),
    signed,
  ]);
  assert.equal(await verifyDkimSignatures(withArc, resolver, { minKeyBits: 1024, now: NOW }), UNSUPPORTED);
  const upperTag = Buffer.from(signed.toString('latin1').replace('s=rsa;', 'S=rsa;'), 'latin1');
  assert.equal(await verifyDkimSignatures(upperTag, resolver, { minKeyBits: 1024, now: NOW }), UNSUPPORTED);
});

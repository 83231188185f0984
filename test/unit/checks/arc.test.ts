import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { type ArcSealOptions, arcSeal, chainValidationOf } from '../../../src/arc/seal.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { startTestDns } from '../../helpers/dns.js';
import { dkimpyArcSign, dkimpyArcVerify, dkimpyAvailable } from './dkim-dkimpy.js';
import {
  ed25519Key,
  keyRecordLine,
  plainMessage,
  rsaKey,
  runMessageChecks,
  type SigningKey,
} from './dkim-fixtures.js';

const forwarder = rsaKey();
const list = ed25519Key();
const python = rsaKey(1024);
const relay = rsaKey(1024);

// forwarder.test and relay.test seal with RSA, list.test with Ed25519; py.test seals with dkimpy;
// refused.test is served by nobody, and gone.test has no key record.
const ZONES = `
  $ORIGIN forwarder.test.
  ${keyRecordLine('arc._domainkey', forwarder)}
  $ORIGIN list.test.
  ${keyRecordLine('arc._domainkey', list)}
  $ORIGIN relay.test.
  ${keyRecordLine('arc._domainkey', relay)}
  $ORIGIN py.test.
  ${keyRecordLine('arc._domainkey', python)}
  $ORIGIN gone.test.
  @ A 192.0.2.99
`;

/** The key records as dkimpy's dnsfunc sees them. */
const RECORDS = {
  'arc._domainkey.forwarder.test': forwarder.record,
  'arc._domainkey.relay.test': relay.record,
  'arc._domainkey.py.test': python.record,
};

const original = plainMessage('Alice <alice@sender.test>');

function sealer(domain: string, key: SigningKey, extra: Partial<ArcSealOptions> = {}): ArcSealOptions {
  return {
    domain,
    selector: 'arc',
    privateKey: key.privateKeyPem,
    authservId: `mx.${domain}`,
    authResults: 'spf=pass smtp.mailfrom=sender.test; dkim=none',
    ...extra,
  };
}

async function sealed(message: Buffer, options: ArcSealOptions): Promise<Buffer> {
  const { headers } = await arcSeal(message, options);
  return Buffer.concat([Buffer.from(headers), message]);
}

async function arcResult(t: TestContext, message: Buffer) {
  const dns = await startTestDns(t, ZONES);
  const { results } = await runMessageChecks(dns, [{ use: 'arc' }], { message, clientIp: '192.0.2.10' });
  const result = results.get('arc');
  assert.ok(result, 'the arc check ran');
  return result;
}

test('a message without ARC header fields is none', async (t) => {
  const result = await arcResult(t, original);
  assert.equal(result.result, 'none');
  assert.deepEqual(result.props, { 'smtp.remote-ip': '192.0.2.10' });
  assert.equal(result.details?.cv, 'none');
});

test('our first ARC set (cv=none) validates, and the A-R entry names the remote IP', async (t) => {
  const set = await arcSeal(original, sealer('forwarder.test', forwarder));
  assert.equal(set.instance, 1);
  assert.match(set.headers, /^ARC-Seal: i=1; a=rsa-sha256;.*cv=none/s);
  assert.match(
    set.headers,
    /\r\nARC-Message-Signature: i=1;.*\r\nARC-Authentication-Results: i=1; mx\.forwarder\.test; spf=pass/s,
  );
  const result = await arcResult(t, Buffer.concat([Buffer.from(set.headers), original]));
  assert.equal(result.result, 'pass');
  assert.deepEqual(result.details, { cv: 'pass', instance: '1', signer: 'forwarder.test' });
  assert.equal(
    formatAuthResults('mx.outpost.test', [['arc', result]]),
    'Authentication-Results: mx.outpost.test;\r\n\tarc=pass smtp.remote-ip=192.0.2.10\r\n',
  );
});

test('a second hop seals with the validation result of the first, cv=pass', async (t) => {
  const hop1 = await sealed(original, sealer('forwarder.test', forwarder));
  const first = await arcResult(t, hop1);
  const cv = chainValidationOf(first);
  assert.equal(cv, 'pass');
  const hop2 = await sealed(hop1, sealer('list.test', list, { chainValidation: cv }));
  assert.match(hop2.toString(), /^ARC-Seal: i=2; a=ed25519-sha256;.*cv=pass/s);
  const second = await arcResult(t, hop2);
  assert.equal(second.result, 'pass');
  assert.equal(second.details?.instance, '2');
  assert.equal(second.details?.signer, 'list.test');
});

test('a message changed after sealing fails', async (t) => {
  const hop1 = await sealed(original, sealer('forwarder.test', forwarder));
  const changed = Buffer.from(hop1.toString().replace('this is a test.', 'this is a trap.'));
  const result = await arcResult(t, changed);
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'ARC: i=1 no valid signature');
  assert.equal(result.details?.cv, 'fail');
});

test('a chain whose newest seal says cv=fail fails, and cannot be sealed again', async (t) => {
  const hop1 = await sealed(original, sealer('forwarder.test', forwarder));
  const hop2 = await sealed(hop1, sealer('list.test', list, { chainValidation: 'fail' }));
  assert.equal((await arcResult(t, hop2)).result, 'fail');
  await assert.rejects(
    arcSeal(hop2, sealer('forwarder.test', forwarder, { chainValidation: 'fail' })),
    /cv=fail/,
  );
});

test('sealing a message that carries a chain needs its validation result', async () => {
  const hop1 = await sealed(original, sealer('forwarder.test', forwarder));
  await assert.rejects(
    arcSeal(hop1, sealer('list.test', list)),
    /ARC sealing failed: A cv value is required/,
  );
});

test('a seal key that cannot be looked up is temperror; a missing key record fails', async (t) => {
  const refused = await sealed(original, sealer('refused.test', forwarder));
  const unknown = await arcResult(t, refused);
  assert.equal(unknown.result, 'temperror');
  assert.equal(chainValidationOf(unknown), undefined, 'an unvalidated chain is not sealed as validated');
  const gone = await sealed(original, sealer('gone.test', forwarder));
  assert.equal((await arcResult(t, gone)).result, 'fail');
});

// dkimpy 1.1.4 validates RSA seals only ("unknown signature algorithm: ed25519-sha256"), so these use RSA.
test('dkimpy validates the ARC sets we seal', {
  skip: !dkimpyAvailable() && 'dkimpy not installed',
}, async () => {
  const hop1 = await sealed(original, sealer('forwarder.test', forwarder));
  assert.deepEqual(await dkimpyArcVerify(hop1, RECORDS), { cv: 'pass', comment: 'success' });
  const hop2 = await sealed(hop1, sealer('relay.test', relay, { chainValidation: 'pass' }));
  assert.equal((await dkimpyArcVerify(hop2, RECORDS)).cv, 'pass');
  const changed = Buffer.from(hop2.toString().replace('this is a test.', 'this is a trap.'));
  assert.equal((await dkimpyArcVerify(changed, RECORDS)).cv, 'fail');
});

test('an ARC set sealed by dkimpy validates here', {
  skip: !dkimpyAvailable() && 'dkimpy not installed',
}, async (t) => {
  const withResults = Buffer.concat([
    Buffer.from('Authentication-Results: mx.py.test; spf=pass smtp.mailfrom=sender.test\r\n'),
    original,
  ]);
  const bySealer = await dkimpyArcSign(withResults, {
    domain: 'py.test',
    selector: 'arc',
    key: python.dkimpyKey,
    srv_id: 'mx.py.test',
  });
  assert.match(bySealer.toString(), /^ARC-Seal: /);
  const result = await arcResult(t, bySealer);
  assert.equal(result.result, 'pass');
  assert.equal(result.details?.signer, 'py.test');
  const onTop = await sealed(bySealer, sealer('forwarder.test', forwarder, { chainValidation: 'pass' }));
  assert.equal((await arcResult(t, onTop)).details?.instance, '2');
  assert.equal((await dkimpyArcVerify(onTop, RECORDS)).cv, 'pass');
});

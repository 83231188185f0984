import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { startTestDns } from '../../helpers/dns.js';
import {
  ed25519Key,
  keyRecordLine,
  plainMessage,
  rsaKey,
  runMessageChecks,
  signed,
} from './dkim-fixtures.js';

const rsa = rsaKey();
const ed = ed25519Key();
const other = rsaKey(1024);
const weak = rsaKey(512);

// sender.test publishes its RSA and Ed25519 keys; stale._domainkey publishes a key that does not
// belong to the signer; weak._domainkey a 512-bit key; refused.test is served by nobody.
const ZONES = `
  $ORIGIN sender.test.
  ${keyRecordLine('rsa._domainkey', rsa)}
  ${keyRecordLine('ed._domainkey', ed)}
  ${keyRecordLine('stale._domainkey', other)}
  ${keyRecordLine('weak._domainkey', weak)}
  ${keyRecordLine('k1024._domainkey', other)}
  @ A 192.0.2.10
`;

const dkim = (options: Record<string, unknown> = {}) => ({ use: 'dkim', ...options });
const message = plainMessage('Alice <alice@sender.test>');

async function dkimResult(t: Parameters<typeof startTestDns>[0], signedMessage: Buffer, block = dkim()) {
  const dns = await startTestDns(t, ZONES);
  const { results, data } = await runMessageChecks(dns, [block], { message: signedMessage });
  const result = results.get('dkim');
  assert.ok(result, 'the dkim check ran');
  return { result, data };
}

test('an RSA-SHA256 signature passes with header.d, header.s, header.a and header.b', async (t) => {
  const message1 = await signed(message, { domain: 'sender.test', selector: 'rsa', key: rsa });
  const { result } = await dkimResult(t, message1);
  assert.equal(result.result, 'pass');
  const b = /\bb=([^;]+)/.exec(
    message1
      .toString()
      .split('\r\n\r\n')[0]
      ?.replace(/bh=[^;]+/, '') ?? '',
  )?.[1];
  assert.ok(b);
  assert.deepEqual(result.props, {
    'header.d': 'sender.test',
    'header.s': 'rsa',
    'header.a': 'rsa-sha256',
    'header.b': b.replace(/\s+/g, '').slice(0, 8),
  });
  assert.deepEqual(result.details, { domain: 'sender.test', selector: 'rsa' });
  assert.match(
    formatAuthResults('mx.outpost.test', [['dkim', result]]),
    /\tdkim=pass header\.d=sender\.test header\.s=rsa header\.a=rsa-sha256\s+header\.b=/,
  );
});

test('an Ed25519-SHA256 signature (RFC 8463) passes', async (t) => {
  const { result } = await dkimResult(
    t,
    await signed(message, { domain: 'sender.test', selector: 'ed', key: ed }),
  );
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.a'], 'ed25519-sha256');
});

test('every signature gets its own entry; any pass makes the result pass, and it comes first', async (t) => {
  const once = await signed(message, { domain: 'sender.test', selector: 'stale', key: rsa });
  const twice = await signed(once, { domain: 'sender.test', selector: 'ed', key: ed });
  const { result } = await dkimResult(t, twice);
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.s'], 'ed');
  assert.equal(result.more?.length, 1);
  assert.equal(result.more?.[0]?.result, 'fail');
  assert.equal(result.more?.[0]?.props?.['header.s'], 'stale');
  const header = formatAuthResults('mx.outpost.test', [['dkim', result]]);
  assert.equal(header.match(/dkim=/g)?.length, 2);
});

test('a signature made with a key other than the published one fails', async (t) => {
  const { result } = await dkimResult(
    t,
    await signed(message, { domain: 'sender.test', selector: 'stale', key: rsa }),
  );
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'bad signature');
});

test('a body changed after signing fails', async (t) => {
  const good = await signed(message, { domain: 'sender.test', selector: 'rsa', key: rsa });
  const tampered = Buffer.from(good.toString().replace('this is a test.', 'this is a trick.'));
  const { result } = await dkimResult(t, tampered);
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'body hash did not verify');
});

test('an unsigned message is none', async (t) => {
  const { result, data } = await dkimResult(t, message);
  assert.equal(result.result, 'none');
  assert.equal(result.props, undefined);
  assert.equal(data.action, 'accept');
});

test('a key lookup the DNS refuses is temperror', async (t) => {
  const { result } = await dkimResult(
    t,
    await signed(message, { domain: 'refused.test', selector: 'rsa', key: rsa }),
  );
  assert.equal(result.result, 'temperror');
  assert.equal(result.props?.['header.d'], 'refused.test');
});

test('a selector without a key record is neutral (no key)', async (t) => {
  const { result } = await dkimResult(
    t,
    await signed(message, { domain: 'sender.test', selector: 'gone', key: rsa }),
  );
  assert.equal(result.result, 'neutral');
  assert.match(result.reason ?? '', /no key/);
});

test('l= covering the whole body passes', async (t) => {
  const whole = Buffer.byteLength('Hello,\r\n\r\nthis is a test.\r\n');
  const { result } = await dkimResult(
    t,
    await signed(message, { domain: 'sender.test', selector: 'rsa', key: rsa, bodyLength: whole }),
  );
  assert.equal(result.result, 'pass');
});

test('l= leaving content unsigned is neutral, so appended text cannot ride on the signature', async (t) => {
  const signedPart = await signed(message, {
    domain: 'sender.test',
    selector: 'rsa',
    key: rsa,
    bodyLength: 8,
  });
  const { result } = await dkimResult(t, signedPart);
  assert.equal(result.result, 'neutral');
  assert.equal(result.reason, 'body length limit leaves content unsigned');
  const appended = Buffer.concat([signedPart, Buffer.from('Click here: http://evil.test/\r\n')]);
  const again = await dkimResult(t, appended);
  assert.equal(again.result.result, 'neutral');
});

test('keys shorter than min_key_bits are not accepted', async (t) => {
  const short = await dkimResult(
    t,
    await signed(message, { domain: 'sender.test', selector: 'weak', key: weak }),
  );
  assert.equal(short.result.result, 'neutral');
  assert.equal(short.result.reason, 'key too short');
  const k1024 = await signed(message, { domain: 'sender.test', selector: 'k1024', key: other });
  assert.equal((await dkimResult(t, k1024)).result.result, 'pass');
  const strict = await dkimResult(t, k1024, dkim({ min_key_bits: 2048 }));
  assert.equal(strict.result.result, 'neutral');
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import type { DkimSigningKey } from '../../../src/dkim/keys.js';
import { publicKeyDnsValue } from '../../../src/dkim/keys.js';
import { arcSealingKey, authResultsResinfo, planForwards, srsRecipient } from '../../../src/forward/plan.js';
import type { CheckResult } from '../../../src/pipeline/check.js';
import { srsForward } from '../../../src/srs/srs.js';
import { startTestDns } from '../../helpers/dns.js';
import { keyRecordLine, plainMessage, rsaKey, runMessageChecks } from '../checks/dkim-fixtures.js';

const SECRET = 'forwarding-test-secret-0123456789';
const NOW = Date.UTC(2024, 4, 1, 12);
const DAY = 86_400_000;
const hostKey = rsaKey();
const ZONE = `
  $ORIGIN mx.forwarder.test.
  ${keyRecordLine('fwd._domainkey', hostKey)}
`;
const sealingKey = { domain: 'mx.forwarder.test', selector: 'fwd', privateKeyPem: hostKey.privateKeyPem };
const ourResults = new Map<string, CheckResult>([
  ['spf', { result: 'pass', props: { 'smtp.mailfrom': 'alice@sender.test' } }],
  ['dkim', { result: 'none' }],
]);

function input(
  overrides: Partial<Parameters<typeof planForwards>[0]> = {},
): Parameters<typeof planForwards>[0] {
  return {
    alias: 'info@forwarder.test',
    targets: ['bob@receiver.test', 'carol@other.test'],
    sender: 'alice@sender.test',
    message: plainMessage('Alice <alice@sender.test>'),
    authservId: 'mx.forwarder.test',
    results: ourResults,
    sealingKey,
    secrets: SECRET,
    now: NOW,
    ...overrides,
  };
}

test('a plain sender is rewritten to SRS0 at the alias domain, targets go by smtp with ORCPT', async () => {
  const copy = await planForwards(input());
  assert.match(copy.sender, /^SRS0=[^=]{4}=[A-Z2-7]{2}=sender\.test=alice@forwarder\.test$/);
  assert.equal(copy.sender, srsForward('alice@sender.test', 'forwarder.test', SECRET, NOW));
  assert.deepEqual(copy.recipients, [
    { address: 'bob@receiver.test', target: 'smtp', orcpt: 'rfc822;info@forwarder.test' },
    { address: 'carol@other.test', target: 'smtp', orcpt: 'rfc822;info@forwarder.test' },
  ]);
  assert.equal(srsRecipient(copy.sender, SECRET, NOW + DAY), 'alice@sender.test');
});

test('an SRS0 sender of another forwarder becomes SRS1 pointing back at that forwarder', async () => {
  const first = srsForward('alice@sender.test', 'first.test', 'first-forwarder-secret-000', NOW);
  const copy = await planForwards(input({ sender: first }));
  assert.match(
    copy.sender,
    /^SRS1=[^=]{4}=first\.test==[^=]{4}=[A-Z2-7]{2}=sender\.test=alice@forwarder\.test$/,
  );
  // A bounce to our SRS1 address goes on to the first forwarder's SRS0 address.
  assert.equal(srsRecipient(copy.sender, SECRET, NOW), first);
});

test('the null sender stays null', async () => {
  const copy = await planForwards(input({ sender: '' }));
  assert.equal(copy.sender, '');
});

test('the forward copy carries our ARC set, which our arc check validates against the DNS key', async (t) => {
  const copy = await planForwards(input());
  assert.equal(copy.unsealed, undefined);
  const text = copy.body.toString('utf8');
  assert.match(text, /^ARC-Seal: i=1; a=rsa-sha256;.*cv=none.*d=mx\.forwarder\.test.*s=fwd/s);
  assert.match(
    text,
    /ARC-Authentication-Results: i=1; mx\.forwarder\.test; spf=pass smtp\.mailfrom=alice@sender\.test; dkim=none/,
  );
  const dns = await startTestDns(t, ZONE);
  const { results } = await runMessageChecks(dns, [{ use: 'arc' }], { message: copy.body });
  assert.equal(results.get('arc')?.result, 'pass', results.get('arc')?.reason);
  assert.equal(results.get('arc')?.details?.signer, 'mx.forwarder.test');
});

test('a changed forward copy no longer validates (the test can fail)', async (t) => {
  const copy = await planForwards(input());
  const tampered = Buffer.from(copy.body.toString('utf8').replace('this is a test', 'this is a trick'));
  const dns = await startTestDns(t, ZONE);
  const { results } = await runMessageChecks(dns, [{ use: 'arc' }], { message: tampered });
  assert.equal(results.get('arc')?.result, 'fail');
});

test('a second hop seals over the first with i=2 and the cv our arc check found', async (t) => {
  const dns = await startTestDns(t, ZONE);
  const first = await planForwards(input());
  const { results } = await runMessageChecks(dns, [{ use: 'arc' }], { message: first.body });
  const second = await planForwards(
    input({ message: first.body, sender: first.sender, results: new Map([...ourResults, ...results]) }),
  );
  assert.equal(second.unsealed, undefined);
  assert.match(second.body.toString('utf8'), /^ARC-Seal: i=2; a=rsa-sha256;.*cv=pass/s);
  const again = await runMessageChecks(dns, [{ use: 'arc' }], { message: second.body });
  assert.equal(again.results.get('arc')?.result, 'pass', again.results.get('arc')?.reason);
  assert.equal(again.results.get('arc')?.details?.instance, '2');
});

test('without a key, or over a chain nobody validated, the copy goes out unsealed with the reason', async () => {
  const keyless = await planForwards(input({ sealingKey: undefined }));
  assert.match(keyless.unsealed ?? '', /no DKIM key/);
  assert.ok(keyless.body.equals(input().message), 'the message is forwarded as it came');
  const first = await planForwards(input());
  const unvalidated = await planForwards(input({ message: first.body }));
  assert.match(unvalidated.unsealed ?? '', /ARC sealing failed/);
  assert.ok(unvalidated.body.equals(first.body), 'the message is forwarded as it came');
});

test('srsRecipient refuses what is not ours, tampered, expired, or not SRS at all', () => {
  const address = srsForward('alice@sender.test', 'forwarder.test', SECRET, NOW);
  assert.equal(srsRecipient(address, SECRET, NOW), 'alice@sender.test');
  assert.equal(srsRecipient(address.toLowerCase(), SECRET, NOW), 'alice@sender.test', 'case smashed');
  assert.equal(srsRecipient(address, 'another-secret-0000000000', NOW), undefined);
  assert.equal(srsRecipient(address.replace('=alice@', '=mallory@'), SECRET, NOW), undefined);
  assert.equal(srsRecipient(address, SECRET, NOW + 40 * DAY), undefined, 'expired');
  assert.equal(srsRecipient('alice@forwarder.test', SECRET, NOW), undefined);
  assert.equal(srsRecipient(address, ['new-secret-00000000000000', SECRET], NOW), 'alice@sender.test');
});

test('the resinfo of our Authentication-Results is unfolded and has no authserv-id', () => {
  assert.equal(
    authResultsResinfo('mx.forwarder.test', ourResults),
    'spf=pass smtp.mailfrom=alice@sender.test; dkim=none',
  );
  assert.equal(authResultsResinfo('mx.forwarder.test', new Map()), 'none');
});

function signingKey(type: 'rsa' | 'ed25519', selector: string): DkimSigningKey {
  const { privateKey } =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 1024 }) : generateKeyPairSync('ed25519');
  return {
    selector,
    algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    privateKey,
    publicKeyDnsValue: publicKeyDnsValue(privateKey),
  };
}

test('the sealing key is the host name key or its nearest parent, RSA first', () => {
  const keys = new Map([
    ['forwarder.test', [signingKey('ed25519', 'ed'), signingKey('rsa', 'rsa')]],
    ['other.test', [signingKey('rsa', 'x')]],
  ]);
  const parentKey = arcSealingKey(keys, 'mx.forwarder.test');
  assert.equal(parentKey?.domain, 'forwarder.test');
  assert.equal(parentKey?.selector, 'rsa');
  const own = new Map([...keys, ['mx.forwarder.test', [signingKey('ed25519', 'host')]]]);
  assert.equal(arcSealingKey(own, 'mx.forwarder.test')?.selector, 'host');
  assert.equal(arcSealingKey(keys, 'mx.elsewhere.test'), undefined);
  assert.match(arcSealingKey(keys, 'mx.forwarder.test')?.privateKeyPem ?? '', /BEGIN PRIVATE KEY/);
});

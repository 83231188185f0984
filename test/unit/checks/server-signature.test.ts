import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signsForHost } from '../../../src/checks/server-signature/binding.js';
import { serverSignature } from '../../../src/checks/server-signature/index.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import { createMessageDns } from '../../../src/pipeline/dns-view.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { startTestDns } from '../../helpers/dns.js';
import { keyRecordLine, plainMessage, rsaKey, runMessageChecks, signed } from './dkim-fixtures.js';

const key = rsaKey();
const stranger = rsaKey();

// mail.sender.test (192.0.2.10) is forward-confirmed; 192.0.2.11 points at a name that does not lead
// back; 192.0.2.12 has no PTR; mail.example.co.uk is 192.0.2.13. Keys: sender.test, mail.sender.test,
// other.test and the public suffix co.uk.
// 198.51.100.0/24 is served by nobody, so its PTR lookup fails.
const ZONES = `
  $ORIGIN co.uk.
  ${keyRecordLine('k._domainkey', key)}
  mail.example A 192.0.2.13
  $ORIGIN sender.test.
  ${keyRecordLine('k._domainkey', key)}
  ${keyRecordLine('k._domainkey.mail', key)}
  mail A 192.0.2.10
  $ORIGIN other.test.
  ${keyRecordLine('k._domainkey', stranger)}
  $ORIGIN 2.0.192.in-addr.arpa.
  10 PTR mail.sender.test.
  11 PTR mail.sender.test.
  13 PTR mail.example.co.uk.
`;

const message = plainMessage('Alice <alice@sender.test>');
const block = { use: 'server-signature' };

async function verdict(
  t: Parameters<typeof startTestDns>[0],
  signedMessage: Buffer,
  clientIp = '192.0.2.10',
) {
  const dns = await startTestDns(t, ZONES);
  const { results, data } = await runMessageChecks(dns, [block], { message: signedMessage, clientIp });
  const result = results.get('server-signature');
  assert.ok(result, 'the server-signature check ran');
  return { result, data };
}

test('a signature by a parent domain of the confirmed host name passes', async (t) => {
  const { result, data } = await verdict(
    t,
    await signed(message, { domain: 'sender.test', selector: 'k', key }),
  );
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.d'], 'sender.test');
  assert.equal(result.props?.['policy.ptr'], 'mail.sender.test');
  assert.equal(data.action, 'accept');
  assert.match(
    formatAuthResults('mx.outpost.test', [['server-signature', result]]),
    /\tx-server-signature=pass header\.d=sender\.test header\.s=k /,
  );
});

test('a signature by the host name itself passes', async (t) => {
  const { result } = await verdict(
    t,
    await signed(message, { domain: 'mail.sender.test', selector: 'k', key }),
  );
  assert.equal(result.result, 'pass');
  assert.equal(result.details?.host, 'mail.sender.test');
});

test('a valid signature of an unrelated domain fails, and the default action is 550 5.7.1', async (t) => {
  const { result, data } = await verdict(
    t,
    await signed(message, { domain: 'other.test', selector: 'k', key: stranger }),
  );
  assert.equal(result.result, 'fail');
  assert.match(result.reason ?? '', /d=other\.test is not the sending host mail\.sender\.test/);
  assert.equal(data.action, 'reject');
  assert.deepEqual(stageReply(data), {
    code: 550,
    enhanced: '5.7.1',
    text: result.reason,
  });
});

test('a public suffix never signs for the hosts below it', async (t) => {
  const { result } = await verdict(
    t,
    await signed(message, { domain: 'co.uk', selector: 'k', key }),
    '192.0.2.13',
  );
  assert.equal(result.result, 'fail');
  assert.match(result.reason ?? '', /d=co\.uk is not the sending host/, 'the signature itself verified');
});

test('a forged signature (message changed after signing) fails', async (t) => {
  const genuine = await signed(message, { domain: 'sender.test', selector: 'k', key });
  const forged = Buffer.from(genuine.toString().replace('this is a test.', 'send money now.'));
  const { result } = await verdict(t, forged);
  assert.equal(result.result, 'fail');
  assert.match(result.reason ?? '', /no DKIM signature verifies/);
});

test('an unsigned message is none and refused by default', async (t) => {
  const { result, data } = await verdict(t, message);
  assert.equal(result.result, 'none');
  assert.equal(data.action, 'reject');
});

test('a client whose reverse DNS is not forward-confirmed cannot carry a server signature', async (t) => {
  const signedMessage = await signed(message, { domain: 'sender.test', selector: 'k', key });
  const unconfirmed = await verdict(t, signedMessage, '192.0.2.11');
  assert.equal(unconfirmed.result.result, 'fail');
  assert.match(unconfirmed.result.reason ?? '', /no forward-confirmed reverse DNS/);
  const nameless = await verdict(t, signedMessage, '192.0.2.12');
  assert.equal(nameless.result.result, 'fail');
});

test('reverse DNS trouble is temperror and deferred', async (t) => {
  const { result, data } = await verdict(
    t,
    await signed(message, { domain: 'sender.test', selector: 'k', key }),
    '198.51.100.7',
  );
  assert.equal(result.result, 'temperror');
  assert.equal(data.action, 'defer');
});

test("the session's fcrdns result is used when the fcrdns check ran at connect", async (t) => {
  const dns = await startTestDns(t, ZONES);
  const signedMessage = await signed(message, { domain: 'sender.test', selector: 'k', key });
  const base = {
    client: { ip: '192.0.2.10', port: 40000 },
    session: {
      id: 's',
      remoteAddress: '192.0.2.10',
      remotePort: 40000,
      localAddress: '127.0.0.1',
      localPort: 25,
      secure: false,
      esmtp: true,
      state: {},
    },
    message: signedMessage,
    dns: createMessageDns(dns.resolver),
    options: { min_key_bits: 1024 },
    now: Date.now,
    signal: new AbortController().signal,
  };
  const elsewhere = new Map([['fcrdns', { result: 'pass' as const, details: { name: 'relay.other.test' } }]]);
  const result = await serverSignature.run({ ...base, earlier: elsewhere });
  assert.equal(result.result, 'fail', 'the earlier name, not a new lookup, decides');
  const troubled = new Map([['fcrdns', { result: 'temperror' as const }]]);
  assert.equal((await serverSignature.run({ ...base, earlier: troubled })).result, 'temperror');
});

test('signsForHost: the host itself or a parent below the public suffix', () => {
  assert.equal(signsForHost('example.org', 'mx1.mail.example.org'), true);
  assert.equal(signsForHost('MX1.Example.Org.', 'mx1.example.org'), true);
  assert.equal(signsForHost('ample.org', 'mx.example.org'), false);
  assert.equal(signsForHost('mx.example.org', 'example.org'), false);
  assert.equal(signsForHost('co.uk', 'mx.example.co.uk'), false);
  assert.equal(signsForHost('example.co.uk', 'mx.example.co.uk'), true);
  assert.equal(signsForHost('github.io', 'mx.someone.github.io'), false);
  assert.equal(signsForHost('org', 'mx.example.org'), false);
});

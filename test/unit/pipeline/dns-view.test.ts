import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResolver } from '../../../src/dns/resolver.js';
import { isDnsError } from '../../../src/dns/types.js';
import { createMessageDns, firstHostWithAddress, recordsOrEmpty } from '../../../src/pipeline/dns-view.js';
import { startTestDns } from '../../helpers/dns.js';

const ZONES = `
  $ORIGIN sender.test.
  mail A 192.0.2.10
  mail6 AAAA 2001:db8::10
  other A 192.0.2.11
  txt TXT "hello"
`;

test('one message asks each name and type once, even with no resolver cache and concurrent checks', async (t) => {
  const { serverAddress } = await startTestDns(t, ZONES);
  const uncached = createResolver({ servers: [serverAddress], cacheSize: 0, timeoutMs: 1000 });
  const dns = createMessageDns(uncached, 5);
  const answers = await Promise.all([
    dns.resolve4('mail.sender.test'),
    dns.resolve4('MAIL.sender.test.'),
    dns.resolve4('mail.sender.test'),
  ]);
  await dns.resolve4('Mail.Sender.Test.');
  assert.deepEqual(answers, [['192.0.2.10'], ['192.0.2.10'], ['192.0.2.10']]);
  assert.equal(uncached.stats().queries, 1);
  await dns.resolveTxt('txt.sender.test');
  assert.equal(uncached.stats().queries, 2);
});

test('the budget counts across all checks of the message', async (t) => {
  const { serverAddress } = await startTestDns(t, ZONES);
  const uncached = createResolver({ servers: [serverAddress], cacheSize: 0, timeoutMs: 1000 });
  const dns = createMessageDns(uncached, 2);
  await dns.resolve4('mail.sender.test');
  await dns.resolve4('other.sender.test');
  await assert.rejects(
    dns.resolve4('txt.sender.test'),
    (error) => isDnsError(error) && error.code === 'EBUDGET',
  );
  assert.deepEqual(await dns.resolve4('mail.sender.test'), ['192.0.2.10']); // already known: free
});

test('recordsOrEmpty: no such name or type is [], other failures propagate', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  assert.deepEqual(await recordsOrEmpty(resolver.resolve4('nothere.sender.test')), []);
  assert.deepEqual(await recordsOrEmpty(resolver.resolveMx('mail.sender.test')), []);
  await assert.rejects(
    recordsOrEmpty(resolver.resolve4('unserved.test')),
    (error) => isDnsError(error) && error.code === 'EREFUSED',
  );
});

test('firstHostWithAddress: the first matching host by the client family; failures only when nothing matched', async (t) => {
  const { resolver } = await startTestDns(t, ZONES);
  assert.equal(
    await firstHostWithAddress(resolver, ['other.sender.test', 'mail.sender.test'], '192.0.2.10'),
    'mail.sender.test',
  );
  assert.equal(
    await firstHostWithAddress(resolver, ['mail6.sender.test'], '2001:db8:0:0::10'),
    'mail6.sender.test',
  );
  assert.equal(
    await firstHostWithAddress(resolver, ['other.sender.test', 'nothere.sender.test'], '192.0.2.10'),
    undefined,
  );
  assert.equal(
    await firstHostWithAddress(resolver, ['unserved.test', 'mail.sender.test'], '192.0.2.10'),
    'mail.sender.test',
  );
  await assert.rejects(firstHostWithAddress(resolver, ['unserved.test', 'other.sender.test'], '192.0.2.10'));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeXtext, parseMailParams, parseRcptParams } from '../../../src/protocol/smtp/params.js';
import { checkMailbox, parsePathArgument } from '../../../src/protocol/smtp/parser.js';
import { smtpConnect } from '../../helpers/smtp-client.js';
import { startServer } from './fixture.js';

const CONTEXT = { maxMessageSize: 1000, dsn: true, auth: { allowInsecureAuth: false } };
const MAILBOX = { allowNull: false, allowPostmaster: false, smtputf8: false };

test('paths: brackets required, a space after the colon tolerated, source routes dropped', () => {
  assert.deepEqual(parsePathArgument('FROM:<a@b.example>', 'FROM:'), {
    ok: true,
    value: { address: 'a@b.example', params: [] },
  });
  assert.deepEqual(parsePathArgument('from: <a@b.example>  SIZE=10 BODY=8BITMIME', 'FROM:'), {
    ok: true,
    value: { address: 'a@b.example', params: ['SIZE=10', 'BODY=8BITMIME'] },
  });
  assert.deepEqual(parsePathArgument('TO:<@relay.example,@hop.example:user@c.example>', 'TO:'), {
    ok: true,
    value: { address: 'user@c.example', params: [] },
  });
  assert.deepEqual(parsePathArgument('FROM:<>', 'FROM:'), { ok: true, value: { address: '', params: [] } });
  assert.deepEqual(parsePathArgument('TO:<"odd>name"@c.example>', 'TO:'), {
    ok: true,
    value: { address: '"odd>name"@c.example', params: [] },
  });
  for (const bad of ['FROM:a@b.example', 'FROM:<a@b.example', 'TO:<a@b.example>', 'FROM:<a@b.example>X=1']) {
    const parsed = parsePathArgument(bad, 'FROM:');
    assert.equal(parsed.ok, false, bad);
    if (!parsed.ok) assert.equal(parsed.reply.code, 501, bad);
  }
  const badRoute = parsePathArgument('TO:<@relay.example user@c.example>', 'TO:');
  assert.equal(badRoute.ok, false);
});

test('mailboxes: dot-atoms, quoted local parts, domains and address literals', () => {
  for (const good of [
    'user@example.org',
    'first.last+tag@sub.example.org',
    'first..last@example.org',
    '"john doe"@example.org',
    '"quoted\\"quote"@example.org',
    'user@[192.0.2.1]',
    'user@[IPv6:2001:db8::1]',
  ]) {
    assert.equal(checkMailbox(good, MAILBOX), undefined, good);
  }
  for (const bad of [
    'no-at-sign',
    '@example.org',
    'user@',
    'user@-bad.example',
    'user@bad_domain.example',
    'us er@example.org',
    'user@[300.1.1.1]',
    'user@[IPv6:nonsense]',
    `${'x'.repeat(65)}@example.org`,
  ]) {
    assert.equal(checkMailbox(bad, MAILBOX)?.code, 553, bad);
  }
  assert.equal(checkMailbox('', MAILBOX)?.code, 553);
  assert.equal(checkMailbox('', { ...MAILBOX, allowNull: true }), undefined);
  assert.equal(checkMailbox('Postmaster', { ...MAILBOX, allowPostmaster: true }), undefined);
  assert.equal(checkMailbox('postmaster', MAILBOX)?.code, 553);
  const utf8 = checkMailbox('jörg@bücher.example', MAILBOX);
  assert.equal(utf8?.code, 553);
  assert.equal(utf8?.enhanced, '5.6.7');
  assert.equal(checkMailbox('jörg@bücher.example', { ...MAILBOX, smtputf8: true }), undefined);
});

test('MAIL parameters: SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH', () => {
  assert.deepEqual(
    parseMailParams(
      ['size=500', 'BODY=8bitmime', 'SMTPUTF8', 'RET=hdrs', 'ENVID=QQ+2B1', 'AUTH=<>'],
      CONTEXT,
    ),
    {
      ok: true,
      value: { size: 500, body: '8BITMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ+1', auth: '<>' },
    },
  );
  assert.deepEqual(parseMailParams([], CONTEXT), { ok: true, value: { smtputf8: false } });
  const tooBig = parseMailParams(['SIZE=1001'], CONTEXT);
  assert.equal(!tooBig.ok && `${tooBig.reply.code} ${tooBig.reply.enhanced}`, '552 5.3.4');
  const expectations: [string[], number][] = [
    [['SIZE=abc'], 501],
    [['SIZE='], 501],
    [['BODY=BINARYMIME'], 555],
    [['BODY=9BIT'], 501],
    [['SMTPUTF8=yes'], 501],
    [['RET=ALL'], 501],
    [['ENVID=bad+ZZ'], 501],
    [[`ENVID=${'x'.repeat(101)}`], 501],
    [['SIZE=1', 'size=2'], 501],
    [['FROBNICATE=1'], 555],
    [['NOTIFY=NEVER'], 555],
  ];
  for (const [tokens, code] of expectations) {
    const parsed = parseMailParams(tokens, CONTEXT);
    assert.equal(parsed.ok ? 250 : parsed.reply.code, code, tokens.join(' '));
  }
  const withoutDsn = parseMailParams(['RET=FULL'], { ...CONTEXT, dsn: false });
  assert.equal(withoutDsn.ok ? 250 : withoutDsn.reply.code, 555);
  const withoutAuth = parseMailParams(['AUTH=<>'], { ...CONTEXT, auth: undefined });
  assert.equal(withoutAuth.ok ? 250 : withoutAuth.reply.code, 555);
});

test('RCPT parameters: NOTIFY and ORCPT', () => {
  assert.deepEqual(parseRcptParams(['NOTIFY=success,Delay', 'ORCPT=rfc822;bob+40example.org'], CONTEXT), {
    ok: true,
    value: { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;bob@example.org' },
  });
  assert.deepEqual(parseRcptParams(['NOTIFY=NEVER'], CONTEXT), { ok: true, value: { notify: [] } });
  for (const bad of [
    'NOTIFY=NEVER,SUCCESS',
    'NOTIFY=SUCCESS,SUCCESS',
    'NOTIFY=SOMETIMES',
    'ORCPT=bob@example.org',
  ]) {
    const parsed = parseRcptParams([bad], CONTEXT);
    assert.equal(parsed.ok ? 250 : parsed.reply.code, 501, bad);
  }
  const unknown = parseRcptParams(['XFOO=1'], CONTEXT);
  assert.equal(unknown.ok ? 250 : `${unknown.reply.code} ${unknown.reply.enhanced}`, '555 5.5.4');
});

test('xtext decoding', () => {
  assert.equal(decodeXtext('plain'), 'plain');
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  assert.equal(decodeXtext('bad+2'), undefined);
  assert.equal(decodeXtext('bad=x'), undefined);
  assert.equal(decodeXtext('bad space'), undefined);
});

test('parameters arrive at the handlers over the wire', async (t) => {
  const { port, seen } = await startServer(t);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const mail = await client.send('MAIL FROM:<a@client.example> SIZE=20 BODY=8BITMIME RET=FULL ENVID=id+2B7');
  assert.equal(mail.code, 250);
  assert.deepEqual(seen.senders[0]?.params, {
    smtputf8: false,
    size: 20,
    body: '8BITMIME',
    ret: 'FULL',
    envid: 'id+7',
  });
  const rcpt = await client.send('RCPT TO:<b@outpost.test> NOTIFY=FAILURE ORCPT=rfc822;b+40old.example');
  assert.equal(rcpt.code, 250);
  const routed = await client.send('RCPT TO:<@hop.example:c@outpost.test>');
  assert.equal(routed.code, 250);
  assert.equal((await client.send('RCPT TO:<postmaster>')).code, 250);
  assert.equal((await client.send('RCPT TO:<"john doe"@outpost.test>')).code, 250);
  assert.equal((await client.send('DATA')).code, 354);
  client.sendRaw('x\r\n.\r\n');
  assert.equal((await client.readReply()).code, 250);
  assert.deepEqual(seen.messages[0]?.transaction.recipients, [
    { address: 'b@outpost.test', params: { notify: ['FAILURE'], orcpt: 'rfc822;b@old.example' } },
    { address: 'c@outpost.test', params: {} },
    { address: 'postmaster', params: {} },
    { address: '"john doe"@outpost.test', params: {} },
  ]);
});

test('over the wire: unknown parameter 555, declared size too big 552, non-ASCII without SMTPUTF8 553', async (t) => {
  const { port } = await startServer(t);
  const client = await smtpConnect(port);
  await client.send('EHLO client.example');
  const unknown = await client.send('MAIL FROM:<a@client.example> FROB=1');
  assert.equal(`${unknown.code} ${unknown.enhanced}`, '555 5.5.4');
  const big = await client.send('MAIL FROM:<a@client.example> SIZE=10001');
  assert.equal(`${big.code} ${big.enhanced}`, '552 5.3.4');
  const utf8 = await client.send('MAIL FROM:<jörg@client.example>');
  assert.equal(`${utf8.code} ${utf8.enhanced}`, '553 5.6.7');
  assert.equal((await client.send('MAIL FROM:<jörg@client.example> SMTPUTF8')).code, 250);
  assert.equal((await client.send('RCPT TO:<zoë@outpost.test>')).code, 250);
  assert.equal((await client.send('RSET')).code, 250);
  assert.equal((await client.send('MAIL FROM:<>')).code, 250);
  const ascii = await client.send('RCPT TO:<zoë@outpost.test>');
  assert.equal(`${ascii.code} ${ascii.enhanced}`, '553 5.6.7');
});

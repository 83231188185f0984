import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { arrivalTime, formatMailq } from '../../../src/local/mailq.js';
import {
  cutAtLoneDot,
  fromField,
  hasFromField,
  takeHeaderRecipients,
  toCrlf,
} from '../../../src/local/message.js';
import { runStdioSmtp, type StdioTransaction } from '../../../src/local/smtp-stdio.js';
import { qualifyAddress } from '../../../src/local/submit.js';

const text = (b: Buffer) => b.toString('latin1');

test('input: LF becomes CRLF; a lone dot ends the message unless -i', () => {
  const crlf = toCrlf(Buffer.from('Subject: x\n\nline\r\n.\nafter\n'));
  assert.equal(text(crlf), 'Subject: x\r\n\r\nline\r\n.\r\nafter\r\n');
  assert.equal(text(cutAtLoneDot(crlf)), 'Subject: x\r\n\r\nline\r\n');
  assert.equal(text(cutAtLoneDot(Buffer.from('a\r\n.'))), 'a\r\n');
  assert.equal(text(cutAtLoneDot(Buffer.from('.\r\nrest\r\n'))), '');
  assert.equal(text(cutAtLoneDot(Buffer.from('a\r\n..b\r\n'))), 'a\r\n..b\r\n', 'only a lone dot ends it');
});

test('-t: recipients from To, Cc and Bcc (folded, groups, duplicates), Bcc removed', () => {
  const message = Buffer.from(
    'From: me@here.test\r\nTo: "Doe, Jane" <jane@a.test>,\r\n bob@b.test\r\nCc: team: x@c.test, jane@a.test;\r\n' +
      'BCC: hidden@d.test,\r\n\tother@e.test\r\nSubject: Bcc: not a field\r\n\r\nBcc: body line stays\r\n',
  );
  const taken = takeHeaderRecipients(message);
  assert.deepEqual(taken.recipients, [
    'jane@a.test',
    'bob@b.test',
    'x@c.test',
    'hidden@d.test',
    'other@e.test',
  ]);
  assert.equal(
    text(taken.message),
    'From: me@here.test\r\nTo: "Doe, Jane" <jane@a.test>,\r\n bob@b.test\r\nCc: team: x@c.test, jane@a.test;\r\n' +
      'Subject: Bcc: not a field\r\n\r\nBcc: body line stays\r\n',
  );
  const noBcc = Buffer.from('To: a@b.test\r\n\r\nx\r\n');
  assert.equal(takeHeaderRecipients(noBcc).message, noBcc);
  const cron = takeHeaderRecipients(Buffer.from('To: root\r\nCc: Some Name\r\n\r\nx\r\n'));
  assert.deepEqual(cron.recipients, ['root'], 'a bare user name is a recipient, a display name alone is not');
});

test('From: added only when missing; -F name quoted or encoded as needed', () => {
  assert.equal(hasFromField(Buffer.from('Subject: x\r\nfrom: a@b\r\n\r\n')), true);
  assert.equal(hasFromField(Buffer.from('Subject: x\r\n\r\nFrom: in body\r\n')), false);
  assert.equal(fromField('a@b.test'), 'From: <a@b.test>\r\n');
  assert.equal(fromField('a@b.test', 'Ann Lee'), 'From: Ann Lee <a@b.test>\r\n');
  assert.equal(fromField('a@b.test', 'Lee, Ann "AL"'), 'From: "Lee, Ann \\"AL\\"" <a@b.test>\r\n');
  assert.equal(
    fromField('a@b.test', 'Zoë'),
    `From: =?UTF-8?B?${Buffer.from('Zoë').toString('base64')}?= <a@b.test>\r\n`,
  );
});

test('unqualified addresses get our first domain; postmaster and <> stay', () => {
  assert.equal(qualifyAddress('alice', 'example.test'), 'alice@example.test');
  assert.equal(qualifyAddress('<bob@x.test>', 'example.test'), 'bob@x.test');
  assert.equal(qualifyAddress('Postmaster', 'example.test'), 'Postmaster');
  assert.equal(qualifyAddress('<>', 'example.test'), '');
});

test('mailq: Postfix layout, reasons before their recipient, hold mark for held and quarantined, footer', () => {
  const received = Date.UTC(2025, 2, 4, 10, 0, 0);
  const listing = formatMailq([
    {
      message: { id: '01M0000000000001', sender: 'alice@a.test', size: 1500, receivedAt: received },
      recipients: [
        { address: 'bob@b.test', status: 'deferred', lastReply: '451 4.4.1 Try later' },
        {
          address: 'carol@c.test',
          status: 'deferred',
          lastReply: '451 4.4.1 Connection refused by mx.c.test',
        },
      ],
    },
    {
      message: { id: '01M0000000000002', sender: '', size: 700, receivedAt: received },
      recipients: [{ address: 'dave@d.test', status: 'held' }],
    },
    {
      message: { id: '01M0000000000003', sender: 'srs@a.test', size: 800, receivedAt: received },
      recipients: [{ address: 'erin@e.test', status: 'quarantined' }],
    },
  ]);
  const lines = listing.split('\n');
  assert.equal(lines[0], '-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------');
  assert.equal(lines[1], `01M0000000000001      1500 ${arrivalTime(received)}  alice@a.test`);
  assert.equal(lines[2], `${' '.repeat(56)}(451 4.4.1 Try later)`);
  assert.equal(lines[3], `${' '.repeat(48)}bob@b.test`);
  assert.equal(lines[4], '(451 4.4.1 Connection refused by mx.c.test)', 'too long to indent');
  assert.equal(lines[5], `${' '.repeat(48)}carol@c.test`);
  assert.equal(lines[6], '');
  assert.match(lines[7] ?? '', /^01M0000000000002!\s+700 .* {2}MAILER-DAEMON$/);
  assert.match(lines[10] ?? '', /^01M0000000000003!\s+800 .* {2}srs@a\.test$/, 'quarantined: on hold too');
  assert.equal(lines.at(-2), '-- 3 Kbytes in 3 Requests.');
  assert.match(
    arrivalTime(received),
    /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar) [ 123]\d \d\d:\d\d:\d\d$/,
  );
  assert.equal(formatMailq([]), 'Mail queue is empty\n');
});

test('-bs dialogue: sequence errors, refused recipient, dot-unstuffing, pipelined input', async () => {
  const submitted: StdioTransaction[] = [];
  let out = '';
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const input = [
    'MAIL FROM:<a@here.test>\r\nEHLO client\r\nRCPT TO:<x@y.test>\r\nMAIL FROM:<a@here.test>\r\n',
    'RCPT TO:<nobody@here.test>\r\nRCPT TO:<bob@here.test>\r\nDATA\r\nSubject: t\r\n\r\n..dot\r\nend\n.\r\n',
    'MAIL FROM:<>\r\nDATA\r\nRSET\r\nQUIT\r\nNOOP\r\n',
  ];
  await runStdioSmtp({
    hostname: 'mx.test',
    input: Readable.from(input.map((chunk) => Buffer.from(chunk))),
    output,
    maxMessageSize: 1000,
    checkRecipient: async (address) =>
      address.startsWith('nobody') ? { code: 550, enhanced: '5.1.1', text: 'No such user here' } : undefined,
    submit: async (tx) => {
      submitted.push(tx);
      return { code: 250, enhanced: '2.0.0', text: 'Ok: queued as Q1' };
    },
  });
  const codes = out
    .split('\r\n')
    .filter((line) => /^\d{3} /.test(line))
    .map((line) => line.slice(0, 3));
  assert.deepEqual(codes, [
    '220',
    '503',
    '250',
    '503',
    '250',
    '550',
    '250',
    '354',
    '250',
    '250',
    '554',
    '250',
    '221',
  ]);
  assert.deepEqual(submitted, [
    {
      sender: 'a@here.test',
      recipients: ['bob@here.test'],
      message: Buffer.from('Subject: t\r\n\r\n.dot\r\nend\r\n'),
    },
  ]);
});

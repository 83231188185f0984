import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDsn, type DsnInput } from '../../../src/dsn/build.js';
import type { DsnRecipient } from '../../../src/dsn/status.js';
import { type ParsedPart, parseWithPython, pythonMissing } from './parse-with-python.js';

const skip = pythonMissing();
const RECEIVED = Date.UTC(2026, 10, 23, 19, 29, 20);
const NOW = RECEIVED + 3_600_000;

const headers = Buffer.from(
  'Received: from client by mx.example.org\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.net\r\n' +
    'Subject: Lunch\r\nMessage-ID: <m1@example.org>\r\n\r\n',
);
const body = Buffer.from('Shall we have lunch?\r\n');

const bounced: DsnRecipient = {
  address: 'bob@example.net',
  orcpt: 'rfc822;Bob@Example.NET',
  action: 'failed',
  status: '5.1.1',
  diagnostic: 'smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown',
  remoteMta: 'mx.example.net',
  lastAttempt: RECEIVED + 60_000,
};

function input(recipients: DsnRecipient[], original: Partial<DsnInput['original']> = {}): DsnInput {
  return {
    reportingMta: 'mx.example.org',
    original: { id: 'Q123', sender: 'alice@example.org', receivedAt: RECEIVED, headers, body, ...original },
    recipients,
    now: NOW,
  };
}

function part(parts: ParsedPart[], index: number): ParsedPart {
  const found = parts[index];
  assert.ok(found, `part ${index}`);
  return found;
}

test('a failure report: multipart/report with text, delivery-status and the whole original', { skip }, () => {
  const dsn = buildDsn(input([bounced], { envid: 'QQ314159' }));
  assert.equal(dsn.from, '');
  assert.equal(dsn.to, 'alice@example.org');
  assert.equal(dsn.eightBit, false);
  const parsed = parseWithPython(dsn.message);
  assert.deepEqual(parsed.defects, []);
  assert.equal(parsed.contentType, 'multipart/report');
  assert.equal(parsed.reportType, 'delivery-status');
  assert.equal(parsed.headers.From, 'Mail Delivery System <MAILER-DAEMON@mx.example.org>');
  assert.equal(parsed.headers.To, '<alice@example.org>');
  assert.equal(parsed.headers.Subject, 'Undelivered Mail Returned to Sender');
  assert.equal(parsed.headers['Auto-Submitted'], 'auto-replied');
  assert.equal(parsed.headers.Date, 'Mon, 23 Nov 2026 20:29:20 +0000');
  assert.match(parsed.headers['Message-ID'] ?? '', /^<[^<>@\s]+@mx\.example\.org>$/);
  assert.deepEqual(
    parsed.parts.map((p) => p.contentType),
    ['text/plain', 'message/delivery-status', 'message/rfc822'],
  );

  assert.match(
    part(parsed.parts, 0).text ?? '',
    /could not be delivered[\s\S]*<bob@example\.net>: 550 5\.1\.1/,
  );
  const report = part(parsed.parts, 1);
  assert.deepEqual(report.perMessage, {
    'Reporting-MTA': 'dns; mx.example.org',
    'X-Outpost-Queue-Id': 'Q123',
    'Original-Envelope-Id': 'QQ314159',
    'Arrival-Date': 'Mon, 23 Nov 2026 19:29:20 +0000',
  });
  assert.deepEqual(report.recipients, [
    {
      'Original-Recipient': 'rfc822; Bob@Example.NET',
      'Final-Recipient': 'rfc822; bob@example.net',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; mx.example.net',
      'Diagnostic-Code': 'smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown',
      'Last-Attempt-Date': 'Mon, 23 Nov 2026 19:30:20 +0000',
    },
  ]);
  const original = part(parsed.parts, 2);
  assert.equal(original.inner?.headers['Message-ID'], '<m1@example.org>');
  assert.equal(original.inner?.body, 'Shall we have lunch?\r\n');
});

test('RET=HDRS returns only the header, as text/rfc822-headers', { skip }, () => {
  const parsed = parseWithPython(buildDsn(input([bounced], { ret: 'HDRS' })).message);
  const original = part(parsed.parts, 2);
  assert.equal(original.contentType, 'text/rfc822-headers');
  assert.match(original.text ?? '', /^Received: from client[\s\S]*Message-ID: <m1@example\.org>\r?\n/);
  assert.doesNotMatch(original.text ?? '', /lunch\?/);
  assert.match(part(parsed.parts, 0).text ?? '', /The header of your message is attached/);
});

test('a delay report: headers only, Will-Retry-Until, the delay subject', { skip }, () => {
  const delayed: DsnRecipient = {
    address: 'carol@example.net',
    action: 'delayed',
    status: '4.4.1',
    diagnostic: 'X-Outpost; connection refused by mx.example.net',
    lastAttempt: NOW - 60_000,
    willRetryUntil: RECEIVED + 5 * 86_400_000,
  };
  const parsed = parseWithPython(buildDsn(input([delayed], { ret: 'FULL' })).message);
  assert.equal(parsed.headers.Subject, 'Delayed Mail (still being retried)');
  assert.equal(part(parsed.parts, 2).contentType, 'text/rfc822-headers');
  const [fields] = part(parsed.parts, 1).recipients ?? [];
  assert.equal(fields?.Action, 'delayed');
  assert.equal(fields?.Status, '4.4.1');
  assert.equal(fields?.['Will-Retry-Until'], 'Sat, 28 Nov 2026 19:29:20 +0000');
  assert.equal(fields?.['Original-Recipient'], undefined);
  assert.match(part(parsed.parts, 0).text ?? '', /not been delivered yet/);
});

test('a success report: headers only and the success subject; Will-Retry-Until only for delays', {
  skip,
}, () => {
  const delivered: DsnRecipient = {
    address: 'dave@example.net',
    action: 'delivered',
    status: '2.0.0',
    diagnostic: 'smtp; 250 2.0.0 Ok: queued as 4F2',
    willRetryUntil: NOW,
  };
  const relayed: DsnRecipient = { address: 'erin@example.net', action: 'relayed', status: '2.0.0' };
  const parsed = parseWithPython(buildDsn(input([delivered, relayed])).message);
  assert.equal(parsed.headers.Subject, 'Successful Mail Delivery Report');
  assert.equal(part(parsed.parts, 2).contentType, 'text/rfc822-headers');
  const recipients = part(parsed.parts, 1).recipients ?? [];
  assert.deepEqual(
    recipients.map((r) => [r.Action, r['Will-Retry-Until']]),
    [
      ['delivered', undefined],
      ['relayed', undefined],
    ],
  );
});

test('mixed outcomes: the subject follows the failure, the text groups recipients by outcome', {
  skip,
}, () => {
  const delayed: DsnRecipient = { address: 'carol@example.net', action: 'delayed', status: '4.0.0' };
  const dsn = buildDsn(input([delayed, bounced]));
  const parsed = parseWithPython(dsn.message);
  assert.equal(parsed.headers.Subject, 'Undelivered Mail Returned to Sender');
  const text = part(parsed.parts, 0).text ?? '';
  assert.ok(text.indexOf('could not be delivered') < text.indexOf('not been delivered yet'));
  assert.equal(part(parsed.parts, 2).contentType, 'message/rfc822');
});

test('an original larger than the return limit comes back as its header, and the text says why', {
  skip,
}, () => {
  const parsed = parseWithPython(buildDsn({ ...input([bounced]), returnLimit: 100 }).message);
  assert.equal(part(parsed.parts, 2).contentType, 'text/rfc822-headers');
  assert.match(part(parsed.parts, 0).text ?? '', /too large to return in full/);
});

test('8-bit originals and UTF-8 addresses: 8bit transfer encoding, RFC 6533 utf-8 address type', {
  skip,
}, () => {
  const utf8Recipient: DsnRecipient = {
    address: 'j\u00fcrgen@example.net',
    orcpt: 'rfc822;J\u00fcrgen+x@example.net',
    action: 'failed',
    status: '5.1.1',
  };
  const dsn = buildDsn(input([utf8Recipient], { body: Buffer.from('Gr\u00fc\u00dfe\r\n', 'utf8') }));
  assert.equal(dsn.eightBit, true);
  assert.equal(dsn.smtputf8, false);
  const parsed = parseWithPython(dsn.message);
  assert.deepEqual(parsed.defects, []);
  assert.equal(parsed.headers['Content-Transfer-Encoding'], '8bit');
  const [fields] = part(parsed.parts, 1).recipients ?? [];
  assert.equal(fields?.['Final-Recipient'], 'utf-8; j\\x{FC}rgen@example.net');
  assert.equal(fields?.['Original-Recipient'], 'utf-8; J\\x{FC}rgen\\x{2B}x@example.net');
  assert.equal(part(parsed.parts, 1).headers['Content-Transfer-Encoding'], undefined);
  assert.equal(part(parsed.parts, 2).inner?.body, 'Gr\u00fc\u00dfe\r\n');
  assert.match(part(parsed.parts, 0).text ?? '', /<j\u00fcrgen@example\.net>/);
});

test('a long diagnostic is folded and unfolds to the same text; odd ENVID bytes become xtext', {
  skip,
}, () => {
  const long = `smtp; 550 5.7.1 ${'policy '.repeat(30).trim()}`;
  const dsn = buildDsn(input([{ ...bounced, diagnostic: long }], { envid: 'id with space' }));
  assert.ok(
    dsn.message
      .toString()
      .split('\r\n')
      .every((line) => line.length <= 998),
  );
  assert.match(dsn.message.toString(), /Diagnostic-Code: smtp; 550 5\.7\.1 policy[^\r]*\r\n policy/);
  const parsed = parseWithPython(dsn.message);
  const report = part(parsed.parts, 1);
  assert.equal(report.recipients?.[0]?.['Diagnostic-Code'], long);
  assert.equal(report.perMessage?.['Original-Envelope-Id'], 'id+20with+20space');
});

test('the boundary never occurs in the parts; every DSN gets its own Message-ID', () => {
  const first = buildDsn(input([bounced]));
  const second = buildDsn(input([bounced]));
  const boundary = /boundary="([^"]+)"/.exec(first.message.toString())?.[1] ?? '';
  assert.ok(boundary.length > 20);
  // Opening delimiters: three parts, then the closing one.
  assert.equal(first.message.toString().split(`--${boundary}\r\n`).length - 1, 3);
  assert.ok(first.message.toString().endsWith(`--${boundary}--\r\n`));
  const id = (message: Buffer) => /^Message-ID: (.*)$/m.exec(message.toString())?.[1];
  assert.notEqual(id(first.message), id(second.message));
});

test('never to the null sender, never without recipients, never with a malformed status', () => {
  assert.throws(() => buildDsn(input([bounced], { sender: '' })), /never sent to the null sender/);
  assert.throws(() => buildDsn(input([])), /at least one recipient/);
  assert.throws(() => buildDsn(input([{ ...bounced, status: '550' }])), /not an RFC 3463 status code/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasHeader, receivedHeader, stampMessage } from '../../../src/inbound/headers.js';
import type { SessionInfo, Transaction } from '../../../src/protocol/smtp/types.js';

const session: SessionInfo = {
  id: 's1',
  remoteAddress: '127.0.0.9',
  remotePort: 40000,
  localAddress: '127.0.0.1',
  localPort: 2525,
  secure: false,
  helo: 'client.example',
  esmtp: true,
  state: {},
};
const tx: Transaction = {
  from: 'a@example.org',
  params: { smtputf8: false },
  recipients: [{ address: 'b@localhost', params: {} }],
};
const now = Date.UTC(2026, 10, 23, 19, 29, 20);

test('Received names the client, us, the protocol and the queue id', () => {
  const header = receivedHeader({ session, tx, hostname: 'mx.localhost', queueId: 'Q1', now });
  assert.equal(
    header,
    'Received: from client.example (unknown [127.0.0.9])\r\n\tby mx.localhost (outpost) with ESMTP id Q1\r\n\tfor <b@localhost>;\r\n\tMon, 23 Nov 2026 19:29:20 +0000\r\n',
  );
});

test('Message-ID and Date are added at the end of the header block only when missing', () => {
  const message = Buffer.from('Subject: hi\r\nFrom: a@example.org\r\n\r\nbody\r\n');
  const out = stampMessage(message, {
    received: 'Received: x\r\n',
    hostname: 'h',
    queueId: 'Q1',
    now,
  }).toString();
  assert.equal(
    out,
    'Received: x\r\nSubject: hi\r\nFrom: a@example.org\r\nMessage-ID: <Q1@h>\r\nDate: Mon, 23 Nov 2026 19:29:20 +0000\r\n\r\nbody\r\n',
  );
  const complete = Buffer.from('Date: x\r\nmessage-id: <m@x>\r\n\r\nbody\r\n');
  assert.equal(
    stampMessage(complete, { received: 'R: y\r\n', hostname: 'h', queueId: 'Q', now }).toString(),
    `R: y\r\n${complete}`,
  );
});

test('a message without a header block or without a body stays well-formed', () => {
  const bodyOnly = stampMessage(Buffer.from('\r\njust body\r\n'), {
    received: 'R: 1\r\n',
    hostname: 'h',
    queueId: 'Q',
    now,
  });
  assert.match(bodyOnly.toString(), /^R: 1\r\nMessage-ID: <Q@h>\r\nDate: [^\r]+\r\n\r\njust body\r\n$/);
  const headersOnly = stampMessage(Buffer.from('Subject: x'), {
    received: 'R: 1\r\n',
    hostname: 'h',
    queueId: 'Q',
    now,
  });
  assert.match(headersOnly.toString(), /^R: 1\r\nSubject: x\r\nMessage-ID: <Q@h>\r\n/);
});

test('hasHeader matches field names at line starts only', () => {
  assert.ok(hasHeader('From: a\r\nDATE: b\r\n', 'date'));
  assert.ok(!hasHeader('Subject: the Date: is here\r\n', 'date'));
});

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, type TestContext, test } from 'node:test';
import { parseClamdReply } from '../../../src/checks/antivirus/clamd.js';
import { formatReply } from '../../../src/core/reply.js';
import type { Resolver } from '../../../src/dns/types.js';
import { formatAuthResults } from '../../../src/pipeline/auth-results.js';
import type { CheckContext, CheckResult } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { runStage, type StageOutcome } from '../../../src/pipeline/run-stage.js';
import { clamdMissingReason, eicar, startClamd, type TestClamd } from '../../helpers/clamd.js';
import { freePort, listenForTest } from '../../helpers/net.js';

const unused = () => Promise.reject(new Error('the antivirus check uses no DNS'));
const noDns: Resolver = {
  resolve: unused,
  resolve4: unused,
  resolve6: unused,
  resolveMx: unused,
  resolveTxt: unused,
  resolvePtr: unused,
  resolveSrv: unused,
  resolveCname: unused,
  reverse: unused,
};

/** Runs the configured antivirus check on a message at the data stage, as a listener does. */
async function scan(
  block: Record<string, unknown>,
  message: Buffer,
  user?: string,
): Promise<{ result: CheckResult; outcome: StageOutcome }> {
  const checks = compileChecks([{ use: 'antivirus', ...block }]);
  const session: CheckContext['session'] = {
    id: 'test-session',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: user === undefined ? 25 : 587,
    secure: false,
    esmtp: true,
    state: {},
    ...(user === undefined ? {} : { user }),
  };
  const outcome = await runStage('data', checks, {
    client: { ip: '127.0.0.1', port: 40000 },
    session,
    mailFrom: 'alice@sender.test',
    message,
    dns: noDns,
    earlier: new Map(),
    now: Date.now,
  });
  const result = outcome.results.get('antivirus');
  if (result === undefined) throw new Error('antivirus did not run');
  return { result, outcome };
}

const HEADER = 'From: alice@sender.test\r\nTo: bob@rcpt.test\r\nSubject: report\r\nMIME-Version: 1.0\r\n';

function cleanMessage(): Buffer {
  return Buffer.from(`${HEADER}Content-Type: text/plain\r\n\r\nThe quarterly numbers are attached.\r\n`);
}

/** A message with the EICAR test file as a base64 attachment, the way a virus usually arrives. */
function infectedMessage(): Buffer {
  return Buffer.from(
    `${HEADER}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n` +
      'See attachment.\r\n--b1\r\nContent-Type: application/octet-stream\r\n' +
      'Content-Disposition: attachment; filename="invoice.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${eicar().toString('base64')}\r\n--b1--\r\n`,
  );
}

function replyOf(outcome: StageOutcome): string | undefined {
  const reply = stageReply(outcome);
  return reply === undefined ? undefined : formatReply(reply);
}

describe('antivirus with a real clamd', { skip: clamdMissingReason() ?? false }, () => {
  const cleanups: (() => unknown)[] = [];
  let clamd: TestClamd;
  before(async () => {
    clamd = await startClamd({ after: (fn) => cleanups.push(fn) }, { streamMaxLength: '1M' });
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('a message carrying EICAR fails with the virus name and is refused with 550 5.7.1', async () => {
    const { result, outcome } = await scan({ address: clamd.address }, infectedMessage());
    assert.equal(result.result, 'fail');
    assert.equal(result.reason, 'Virus found: Test.EICAR.UNOFFICIAL');
    assert.deepEqual(result.props, { 'policy.virus': 'Test.EICAR.UNOFFICIAL' });
    assert.equal(outcome.action, 'reject');
    assert.equal(replyOf(outcome), '550 5.7.1 Virus found: Test.EICAR.UNOFFICIAL\r\n');
    assert.match(
      formatAuthResults('mx.rcpt.test', outcome.results),
      /\tx-antivirus=fail reason="Virus found: Test\.EICAR\.UNOFFICIAL"\s+policy\.virus=Test\.EICAR\.UNOFFICIAL\r\n$/,
    );
  });

  test('a clean message passes and is accepted', async () => {
    const { result, outcome } = await scan({ address: clamd.address }, cleanMessage());
    assert.equal(result.result, 'pass');
    assert.equal(outcome.action, 'accept');
    assert.equal(replyOf(outcome), undefined);
  });

  test('the UNIX socket works like TCP, and an authenticated submission is scanned the same way', async () => {
    const { result } = await scan({ socket: clamd.socketPath }, infectedMessage(), 'alice');
    assert.equal(result.result, 'fail');
    assert.equal(result.reason, 'Virus found: Test.EICAR.UNOFFICIAL');
    const clean = await scan({ socket: clamd.socketPath }, cleanMessage(), 'alice');
    assert.equal(clean.result.result, 'pass');
  });

  test("a message over clamd's own StreamMaxLength is temperror and deferred", async () => {
    const big = Buffer.concat([cleanMessage(), Buffer.alloc(2 * 1024 * 1024, 'A')]);
    const { result, outcome } = await scan({ address: clamd.address, max_size: '10MB' }, big);
    assert.equal(result.result, 'temperror');
    assert.equal(outcome.action, 'defer');
    // clamd answers "INSTREAM size limit exceeded. ERROR" and closes while we are still sending; now
    // and then (about 2 in 100 runs here) the close resets the connection before its answer is read.
    const cause = result.details?.clamd ?? outcome.decisions[0]?.detail ?? '';
    assert.match(cause, /size limit exceeded|EPIPE|ECONNRESET/);
    assert.match(replyOf(outcome) ?? '', /^451 4\.7\.1 /);
  });

  test('configuration decides: a virus can be quarantined instead', async () => {
    const { outcome } = await scan({ address: clamd.address, on: { fail: 'quarantine' } }, infectedMessage());
    assert.equal(outcome.action, 'quarantine');
  });
});

test('clamd not running (connection refused) is temperror and deferred', async () => {
  const port = await freePort();
  const { result, outcome } = await scan({ address: `127.0.0.1:${port}` }, cleanMessage());
  assert.equal(result.result, 'temperror');
  assert.equal(outcome.action, 'defer');
  assert.match(outcome.decisions[0]?.detail ?? '', /ECONNREFUSED/);
  assert.equal(replyOf(outcome), '451 4.7.1 The antivirus check could not complete\r\n');
});

test('a message over max_size is temperror without asking clamd', async () => {
  const port = await freePort(); // nobody listens: a connection attempt would show as ECONNREFUSED
  const { result, outcome } = await scan({ address: `127.0.0.1:${port}`, max_size: 64 }, cleanMessage());
  assert.equal(result.result, 'temperror');
  assert.equal(result.details?.antivirus, 'too-large');
  assert.equal(outcome.decisions[0]?.detail, undefined);
  assert.equal(outcome.action, 'defer');
});

/** A TCP server that does what `onData` says with every connection; closed after the test. */
async function fakeClamd(
  t: TestContext,
  onData: (socket: Socket, received: Buffer) => void,
): Promise<string> {
  const server = createServer((socket) => {
    let received: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      onData(socket, received);
    });
    socket.on('error', () => undefined);
  });
  return `127.0.0.1:${await listenForTest(t, server)}`;
}

test('the stream is framed as zINSTREAM, 4-byte big-endian lengths and a zero-length end', async (t) => {
  let seen: Buffer = Buffer.alloc(0);
  const address = await fakeClamd(t, (socket, received) => {
    seen = received;
    if (received.subarray(-4).equals(Buffer.alloc(4))) socket.end('stream: OK\0');
  });
  const message = Buffer.alloc(100_000, 'x');
  const { result } = await scan({ address }, message);
  assert.equal(result.result, 'pass');
  assert.equal(seen.subarray(0, 10).toString('latin1'), 'zINSTREAM\0');
  let offset = 10;
  const chunks: Buffer[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const length = seen.readUInt32BE(offset);
    offset += 4;
    if (length === 0) break;
    chunks.push(seen.subarray(offset, offset + length));
    offset += length;
  }
  assert.equal(offset, seen.length);
  assert.ok(chunks.length > 1);
  assert.deepEqual(Buffer.concat(chunks), message);
});

test('a scanner that never answers times out into temperror', async (t) => {
  const address = await fakeClamd(t, () => undefined);
  const { result, outcome } = await scan({ address, timeout: '300ms' }, cleanMessage());
  assert.equal(result.result, 'temperror');
  assert.match(outcome.decisions[0]?.detail ?? '', /timed out/);
});

test('a reply that is not clamd is temperror, never a pass', async (t) => {
  const address = await fakeClamd(t, (socket) => socket.end('220 smtp.example ESMTP\r\n'));
  const { result, outcome } = await scan({ address }, cleanMessage());
  assert.equal(result.result, 'temperror');
  assert.match(outcome.decisions[0]?.detail ?? '', /unexpected clamd reply/);
});

test("clamd's replies are read as clean, infected or error", () => {
  assert.deepEqual(parseClamdReply('stream: OK\0'), { kind: 'clean' });
  assert.deepEqual(parseClamdReply('stream: Win.Test.EICAR_HDB-1 FOUND'), {
    kind: 'infected',
    name: 'Win.Test.EICAR_HDB-1',
  });
  assert.deepEqual(parseClamdReply('INSTREAM size limit exceeded. ERROR'), {
    kind: 'error',
    message: 'INSTREAM size limit exceeded.',
  });
  assert.deepEqual(parseClamdReply("stream: Can't allocate memory ERROR"), {
    kind: 'error',
    message: "Can't allocate memory",
  });
  assert.equal(parseClamdReply('PONG'), undefined);
  assert.equal(parseClamdReply('stream: '), undefined);
});

test('configuration: address and socket together, or a bad address, are refused at startup', () => {
  assert.throws(
    () => compileChecks([{ use: 'antivirus', address: '127.0.0.1:3310', socket: '/run/clamav/clamd.ctl' }]),
    /either an address or a socket/,
  );
  assert.throws(() => compileChecks([{ use: 'antivirus', address: 'localhost' }]), /host:port/);
  assert.throws(() => compileChecks([{ use: 'antivirus', max_size: 'huge' }]), /size/);
  const [compiled] = compileChecks([{ use: 'antivirus', address: '[::1]:3310' }]);
  assert.equal(compiled?.stage, 'data');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataReader, type DataResult } from '../../../src/protocol/smtp/data-reader.js';

/** Feeds the chunks in order; the result and where the terminator ended (offset in the whole input). */
function read(
  chunks: string[],
  maxSize = 100_000,
  maxLine = 1000,
): { result: DataResult; end: number } | undefined {
  const reader = new DataReader(maxSize, maxLine);
  let offset = 0;
  for (const chunk of chunks) {
    const bytes = Buffer.from(chunk, 'latin1');
    const end = reader.feed(bytes);
    if (end >= 0) return { result: reader.result(), end: offset + end };
    offset += bytes.length;
  }
  return undefined;
}

function content(chunks: string[]): string {
  const outcome = read(chunks);
  assert.ok(outcome, 'terminator not found');
  assert.ok(outcome.result.ok, `refused: ${outcome.result.ok ? '' : outcome.result.problem}`);
  return outcome.result.message.toString('latin1');
}

function problem(chunks: string[], maxSize?: number, maxLine?: number): string {
  const outcome = read(chunks, maxSize, maxLine);
  assert.ok(outcome, 'terminator not found');
  return outcome.result.ok ? 'accepted' : outcome.result.problem;
}

test('the message ends at CRLF.CRLF and keeps its last CRLF', () => {
  assert.equal(content(['Subject: x\r\n\r\nbody\r\n.\r\n']), 'Subject: x\r\n\r\nbody\r\n');
  assert.equal(content(['.\r\n']), '');
  const outcome = read(['one\r\n.\r\nMAIL FROM:<next@example.org>\r\n']);
  assert.equal(outcome?.end, 8);
});

test('the terminator is found across every possible chunk boundary', () => {
  const wire = 'line one\r\n..stuffed\r\nlast\r\n.\r\nQUIT\r\n';
  for (let cut = 1; cut < wire.length; cut++) {
    for (let second = cut + 1; second <= wire.length; second++) {
      const chunks = [wire.slice(0, cut), wire.slice(cut, second), wire.slice(second)];
      const outcome = read(chunks);
      assert.ok(outcome?.result.ok, `cut at ${cut},${second}`);
      assert.equal(
        outcome.result.message.toString(),
        'line one\r\n.stuffed\r\nlast\r\n',
        `cut at ${cut},${second}`,
      );
      assert.equal(outcome.end, wire.indexOf('QUIT'), `cut at ${cut},${second}`);
    }
  }
});

test('dot-unstuffing removes exactly one leading dot', () => {
  assert.equal(content(['..\r\n...x\r\n.a.\r\nb.\r\n.\r\n']), '.\r\n..x\r\na.\r\nb.\r\n');
  // A first line ".." arriving alone must stay content, not become a terminator.
  assert.equal(content(['.', '.', '\r', '\n', '.', '\r', '\n']), '.\r\n');
  // A held-back CR after a leading dot that turns out not to be the terminator.
  assert.equal(problem(['.\r', 'x\r\n.\r\n']), 'BARE_LINE_ENDING');
});

test('SMTP smuggling: only CRLF.CRLF ends the message; look-alikes make it a bare line ending', () => {
  const lookAlikes = ['\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r\n.\r', '\r.\r\n', '\n..\n'];
  for (const fake of lookAlikes) {
    const wire = `Subject: x\r\n\r\nhello${fake}MAIL FROM:<evil@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n`;
    assert.equal(read([wire])?.end, wire.length, JSON.stringify(fake));
    assert.equal(problem([wire]), 'BARE_LINE_ENDING', JSON.stringify(fake));
  }
});

test('bare CR, bare LF, NUL and long lines are noted; oversize wins', () => {
  assert.equal(problem(['a\nb\r\n.\r\n']), 'BARE_LINE_ENDING');
  assert.equal(problem(['a\rb\r\n.\r\n']), 'BARE_LINE_ENDING');
  assert.equal(problem(['a\r\r\nb\r\n.\r\n']), 'BARE_LINE_ENDING');
  assert.equal(problem(['a\u0000b\r\n.\r\n']), 'NUL_IN_MESSAGE');
  assert.equal(problem([`${'x'.repeat(20)}\r\n.\r\n`], 100, 21), 'LINE_TOO_LONG');
  assert.equal(problem([`${'x'.repeat(19)}\r\n.\r\n`], 100, 21), 'accepted');
  assert.equal(problem(['x'.repeat(15), 'x'.repeat(15), '\r\n.\r\n'], 100, 21), 'LINE_TOO_LONG');
  assert.equal(problem([`${'x'.repeat(200)}\r\n.\r\n`], 100, 1000), 'MESSAGE_TOO_BIG');
  assert.equal(problem([`${'x'.repeat(98)}\r\n.\r\n`], 100, 1000), 'accepted');
  assert.equal(problem([`${'x'.repeat(99)}\r\n.\r\n`], 100, 1000), 'MESSAGE_TOO_BIG');
  // NUL in a pipelined command after the terminator is not part of the message.
  assert.equal(problem(['ok\r\n.\r\nNOOP\u0000\r\n']), 'accepted');
});

test('a chunk full of lone CRs or LFs is scanned in one pass', () => {
  assert.equal(problem(['\r'.repeat(200_000), '\r\n.\r\n'], 1_000_000, 1_000_000), 'BARE_LINE_ENDING');
  assert.equal(problem(['\n'.repeat(200_000), '\r\n.\r\n'], 1_000_000, 1_000_000), 'BARE_LINE_ENDING');
});

test('random input in random chunks matches a plain reference reading', () => {
  const random = seededRandom(20240601);
  const tokens = ['a', 'b', '.', '.', '\r', '\n', '\r\n', '\r\n', '\r\n.', '\u0000', 'xxxxxxxx'];
  for (let round = 0; round < 3000; round++) {
    let text = '';
    const count = Math.floor(random() * 30);
    for (let i = 0; i < count; i++) text += tokens[Math.floor(random() * tokens.length)];
    const wire = `${text}\r\n.\r\nNEXT`;
    const chunks: string[] = [];
    for (let at = 0; at < wire.length; ) {
      const size = 1 + Math.floor(random() * 8);
      chunks.push(wire.slice(at, at + size));
      at += size;
    }
    const expected = reference(wire, 12);
    const actual = read(chunks, 1_000_000, 12);
    assert.ok(actual, JSON.stringify(wire));
    assert.equal(actual.end, expected.end, JSON.stringify(wire));
    const summary = actual.result.ok ? actual.result.message.toString('latin1') : actual.result.problem;
    assert.equal(summary, expected.summary, JSON.stringify(wire));
  }
});

/** RFC 5321 read naively from the whole input: the message text or the problem. */
function reference(wire: string, maxLine: number): { end: number; summary: string } {
  const at = wire.startsWith('.\r\n') ? -2 : wire.indexOf('\r\n.\r\n');
  const body = wire.slice(0, at + 2);
  const end = at + 5;
  if (/\r(?!\n)|(?<!\r)\n/.test(body)) return { end, summary: 'BARE_LINE_ENDING' };
  if (body.includes('\u0000')) return { end, summary: 'NUL_IN_MESSAGE' };
  if (body.split('\n').some((line, i, all) => i < all.length - 1 && line.length + 1 > maxLine)) {
    return { end, summary: 'LINE_TOO_LONG' };
  }
  const unstuffed = body
    .split('\r\n')
    .map((line) => (line.startsWith('.') ? line.slice(1) : line))
    .join('\r\n');
  return { end, summary: unstuffed };
}

function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

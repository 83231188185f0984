import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ByteSink,
  hashRelaxedBody,
  parseHeaderFields,
  relaxedHeader,
  splitMessage,
} from '../../../src/dkim/canonical.js';

/** A small linear congruential generator: the same "random" inputs on every run. */
function seededRandom(seed: number): (limit: number) => number {
  let state = seed;
  return (limit) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % limit;
  };
}

function relaxedBody(body: string): string {
  const chunks: Buffer[] = [];
  const sink: ByteSink = { update: (data: Buffer) => chunks.push(Buffer.from(data)) };
  hashRelaxedBody(Buffer.from(body, 'latin1'), sink);
  return Buffer.concat(chunks).toString('latin1');
}

function relaxedHeaders(section: string): string {
  return parseHeaderFields(section)
    .map((field) => `${relaxedHeader(field)}\r\n`)
    .join('');
}

test('the example of RFC 6376 section 3.4.5 canonicalizes as the RFC says', () => {
  const message = Buffer.from('A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n');
  const { headerEnd, bodyStart } = splitMessage(message);
  assert.equal(relaxedHeaders(message.toString('latin1', 0, headerEnd)), 'a:X\r\nb:Y Z\r\n');
  assert.equal(relaxedBody(message.toString('latin1', bodyStart)), ' C\r\nD E\r\n');
});

test('relaxed body: empty bodies hash as nothing, a missing final line break is added', () => {
  assert.equal(relaxedBody(''), '');
  assert.equal(relaxedBody('\r\n\r\n'), '');
  assert.equal(relaxedBody(' \t \r\n'), '');
  assert.equal(relaxedBody('last line'), 'last line\r\n');
  assert.equal(relaxedBody('a  \t b   '), 'a b\r\n');
});

test('relaxed body: empty lines inside the body stay, only the trailing ones go', () => {
  assert.equal(relaxedBody('a\r\n\r\n \r\nb\r\n\r\n'), 'a\r\n\r\n\r\nb\r\n');
});

test('relaxed body: bare LF counts as a line break, a lone CR is content', () => {
  assert.equal(relaxedBody('a \nb\n\n'), 'a\r\nb\r\n');
  assert.equal(relaxedBody('a\rb\r\n'), 'a\rb\r\n');
});

test('relaxed body: 8-bit bytes pass through unchanged', () => {
  assert.equal(relaxedBody('caf\xe9  au lait\r\n'), 'caf\xe9 au lait\r\n');
});

test('relaxed body: a body far larger than the WebAssembly input area hashes like the same body built in memory', () => {
  const line = `${'word  '.repeat(20)}\t\r\n`;
  const body = line.repeat(5000) + '\r\n'.repeat(50_000);
  const expected = `${'word '.repeat(19)}word\r\n`.repeat(5000);
  assert.equal(relaxedBody(body), expected);
});

test('splitMessage finds the empty line with CRLF or LF endings, or none', () => {
  assert.deepEqual(splitMessage(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody')), { headerEnd: 12, bodyStart: 14 });
  assert.deepEqual(splitMessage(Buffer.from('A: 1\nB: 2\n\nbody')), { headerEnd: 10, bodyStart: 11 });
  assert.deepEqual(splitMessage(Buffer.from('A: 1\r\n')), { headerEnd: 6, bodyStart: 6 });
  assert.deepEqual(splitMessage(Buffer.from('\r\nbody')), { headerEnd: 0, bodyStart: 2 });
});

test('header fields: continuation lines join their field, names are lower case, junk lines are skipped', () => {
  const fields = parseHeaderFields('Subject: a\r\n b\r\nnot a header\r\nX-Y : z\r\n');
  assert.deepEqual(fields, [
    { name: 'subject', raw: 'Subject: a\r\n b' },
    { name: 'x-y', raw: 'X-Y : z' },
  ]);
  assert.equal(relaxedHeader({ name: 'x', raw: 'X:   \t ' }), 'x:');
  // A no-break space (0xA0) is not WSP: it must survive, unlike with String.prototype.trim.
  assert.equal(relaxedHeader({ name: 'x', raw: 'X: \xa0v\xa0 ' }), 'x:\xa0v\xa0');
});

/** RFC 6376 section 3.4.4 written the obvious way, to check the streaming version against. */
function referenceRelaxedBody(body: string): string {
  const lines = body
    .replace(/\r?\n/g, '\n')
    .split('\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => `${line}\r\n`).join('');
}

test('relaxed body agrees with a plain reference on thousands of generated bodies', () => {
  const pieces = ['a', 'b', ' ', '\t', '\r', '\n', '\r\n', '\r\n\r\n', '  '];
  const next = seededRandom(12345);
  for (let i = 0; i < 3000; i++) {
    let body = '';
    const length = next(16);
    for (let j = 0; j < length; j++) body += pieces[next(pieces.length)];
    assert.equal(relaxedBody(body), referenceRelaxedBody(body), JSON.stringify(body));
  }
});

test('relaxed body: piece boundaries of the WebAssembly input area (32 KB) change nothing', () => {
  const area = 32 * 1024;
  // Each body has a tab or a run of spaces, so none takes the already-relaxed shortcut.
  const bodies = [
    // CR LF across the boundary: the CR must wait for its LF in the next piece.
    `${'x'.repeat(area - 1)}\r\ny\t\r\n`,
    // A run of spaces and a tab across the boundary, then more words.
    `${'x'.repeat(area - 2)}  \t  word\r\n`,
    // A lone CR as the very last byte is content.
    `\t${'x'.repeat(area * 2)}\r`,
    // Trailing blanks and empty lines that straddle two boundaries.
    `word${' '.repeat(area * 2)}\r\n${'\r\n'.repeat(area)}`,
  ];
  for (const body of bodies)
    assert.equal(relaxedBody(body), referenceRelaxedBody(body), `${body.length} bytes`);
});

test('relaxed body: output beyond the WebAssembly output area is handed over in several calls', () => {
  // 70,000 empty lines owed before content: 140 KB of CR LF, more than the 96 KB output area.
  const manyEmpty = `${'\r\n'.repeat(70_000)}x\t\r\n`;
  assert.equal(relaxedBody(manyEmpty), `${'\r\n'.repeat(70_000)}x\r\n`);
  // The output area fills in the middle of a run of printable bytes.
  const fullInRun = `${'\n'.repeat(45_000)}${'y'.repeat(30_000)}\n`;
  assert.equal(relaxedBody(fullInRun), referenceRelaxedBody(fullInRun));
});

test('relaxed body agrees with the reference on large generated bodies with long runs', () => {
  const pieces = [
    'word',
    ' ',
    '\t',
    '\r',
    '\n',
    '\r\n',
    ' '.repeat(5000),
    '\r\n'.repeat(3000),
    'z'.repeat(9000),
    '\xe9',
  ];
  const next = seededRandom(777);
  for (let i = 0; i < 60; i++) {
    let body = '';
    while (body.length < 20_000 + next(120_000)) body += pieces[next(pieces.length)];
    assert.equal(relaxedBody(body), referenceRelaxedBody(body), `body ${i}, ${body.length} bytes`);
  }
});

test('bodies that need no relaxing (base64, quoted-printable) come out as they are, minus trailing empty lines', () => {
  assert.equal(relaxedBody('aGVsbG8=\r\nd29ybGQ=\r\n\r\n\r\n'), 'aGVsbG8=\r\nd29ybGQ=\r\n');
  assert.equal(relaxedBody('one space only\r\n'), 'one space only\r\n');
  assert.equal(relaxedBody(' leading\r\n'), ' leading\r\n');
  assert.equal(relaxedBody('x\r\r\n'), 'x\r\r\n');
  assert.equal(relaxedBody('ends in a space '), 'ends in a space\r\n');
});

/** Header parsing and RFC 6376 section 3.4.2 written with split and regular expressions, to check the scans against. */
function referenceRelaxedHeaders(section: string): string {
  // undefined stands for a line that is not a field: continuation lines after it join nothing.
  const fields: ({ name: string; raw: string } | undefined)[] = [];
  for (const line of section.split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last !== undefined) {
      last.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    fields.push(colon > 0 ? { name: line.slice(0, colon).replace(/[ \t]+$/, ''), raw: line } : undefined);
  }
  return fields
    .map((field) => {
      if (field === undefined) return '';
      const value = field.raw
        .slice(field.raw.indexOf(':') + 1)
        .replace(/\r?\n/g, '')
        .replace(/[ \t]+/g, ' ')
        .replace(/^ | $/g, '');
      return `${field.name.toLowerCase()}:${value}\r\n`;
    })
    .join('');
}

test('header fields and relaxed header canonicalization agree with a plain reference on generated sections', () => {
  const pieces = ['A', 'b', ':', ' ', '\t', '  ', '\r', '\n', '\r\n', '\r\n ', '\r\n\t', '\xe9', ';'];
  const next = seededRandom(54321);
  for (let i = 0; i < 5000; i++) {
    let section = '';
    const length = next(20);
    for (let j = 0; j < length; j++) section += pieces[next(pieces.length)];
    assert.equal(relaxedHeaders(section), referenceRelaxedHeaders(section), JSON.stringify(section));
  }
});

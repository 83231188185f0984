/**
 * DATA reader throughput: how fast the scanner (terminator search, dot-unstuffing, bare CR/LF and
 * NUL detection) goes through message content delivered in socket-sized chunks.
 *
 *   node --import tsx bench/smtp-layer/data-reader.ts
 */
import { DataReader } from '../../src/protocol/smtp/data-reader.js';

const CHUNK = 64 * 1024;
const ROUNDS = 20;

const cases: { name: string; size: number; line: string }[] = [
  { name: 'text, 76-byte lines', size: 10 * 1024 * 1024, line: `${'x'.repeat(74)}\r\n` },
  { name: 'text, 998-byte lines', size: 10 * 1024 * 1024, line: `${'y'.repeat(996)}\r\n` },
  { name: 'dot-stuffed lines', size: 10 * 1024 * 1024, line: `..${'z'.repeat(72)}\r\n` },
  { name: 'small 4 KB message', size: 4 * 1024, line: `${'x'.repeat(74)}\r\n` },
];

console.log(`node ${process.version}`);
for (const { name, size, line } of cases) {
  const wire = Buffer.from(`${line.repeat(Math.ceil(size / line.length))}.\r\n`);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < wire.length; offset += CHUNK)
    chunks.push(wire.subarray(offset, offset + CHUNK));
  const rounds = size < CHUNK ? ROUNDS * 1000 : ROUNDS;
  read(chunks, wire.length);
  const started = performance.now();
  for (let round = 0; round < rounds; round++) read(chunks, wire.length);
  const seconds = (performance.now() - started) / 1000;
  const megabytes = (wire.length * rounds) / (1024 * 1024);
  const perMessage = (seconds / rounds) * 1e6;
  console.log(
    `${name.padEnd(22)} ${(megabytes / seconds).toFixed(0).padStart(6)} MB/s  ${perMessage.toFixed(1)} us/message`,
  );
}

function read(chunks: Buffer[], size: number): void {
  const reader = new DataReader(size * 2, 1000);
  for (const chunk of chunks) if (reader.feed(chunk) >= 0) break;
  const result = reader.result();
  if (!result.ok) throw new Error(`unexpected ${result.problem}`);
}

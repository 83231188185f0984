import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../../../src/dkim/relaxed-body.wat', import.meta.url));
const committed = fileURLToPath(new URL('../../../src/dkim/relaxed-body.wasm', import.meta.url));
const hasWat2wasm = spawnSync('wat2wasm', ['--version']).status === 0;

// The binary is committed so that `npm start` needs no toolchain; this keeps it honest.
test('relaxed-body.wasm is what relaxed-body.wat assembles to', {
  skip: !hasWat2wasm && 'wat2wasm (Debian wabt) not installed',
}, () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'outpost-wasm-'));
  try {
    const built = path.join(folder, 'relaxed-body.wasm');
    const result = spawnSync('wat2wasm', [source, '-o', built], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(
      readFileSync(built).equals(readFileSync(committed)),
      'run `npm run build:wasm` and commit the result',
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

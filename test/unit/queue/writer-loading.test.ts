import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./open-child.ts', import.meta.url));
const REGISTER_ENTRY = fileURLToPath(new URL('./register-entry.mjs', import.meta.url));
const TSX_CLI = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));

// The writer thread must start however outpost runs its TypeScript.
const ways: Array<[string, string[]]> = [
  ['node --import tsx', ['--import', 'tsx', CHILD]],
  ['the tsx CLI', [TSX_CLI, CHILD]],
  ['tsx registered through its API, as bin/outpost.js does', [REGISTER_ENTRY, CHILD]],
];

for (const [how, args] of ways) {
  test(`the queue writer thread starts under ${how}`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'outpost-loading-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { stdout } = await run(process.execPath, [...args, dir], { timeout: 30_000 });
    assert.match(stdout, /^ok [0-9A-Z]{16}\n$/);
  });
}

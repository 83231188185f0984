// `outpost demo --check` as a child process: the whole fake internet (our DNS server, alice, bob
// and carol post offices on 127.0.0.2-5) plays every step and the check verifies each outcome.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runTsx, type ScriptRun } from '../helpers/outpost-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The command as src/cli/main.ts registers it (registerDemoCommands), without depending on main.ts.
const entry = path.join(root, 'test/integration/demo-cli-entry.ts');

function runDemo(args: string[]): Promise<ScriptRun> {
  return runTsx([entry, 'demo', ...args]);
}

test('outpost demo --check: every step shows its expected outcome and the exit code is 0', {
  timeout: 150_000,
}, async () => {
  const run = await runDemo(['--check', '--timeout', '120s', '--step-timeout', '30s']);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  for (let step = 1; step <= 5; step++) assert.match(run.stdout, new RegExp(`ok: step ${step}\\n`));
  assert.match(run.stdout, /demo check: every step showed its expected outcome/);
  // What the steps show: the path through the trusted MX, the bounce, the success notice from the
  // final MTA, the fall-through to Junk, and the IM2000 receipt.
  assert.match(run.stdout, /dnswl=pass .*x-server-signature=pass header\.d=mx\.alice\.example/);
  assert.match(run.stdout, /Diagnostic-Code: smtp; 550 5\.1\.1/);
  assert.match(
    run.stdout,
    /Reporting-MTA: dns; mx\.bob\.example\n\s+Final-Recipient: rfc822; bob@bob\.example\n\s+Action: delivered/,
  );
  assert.match(run.stdout, /\(127\.0\.0\.5\) connects to mx\.bob\.example: 554 5\.7\.1/);
  assert.match(run.stdout, /\.Junk\/new\/.*\n.*Authentication-Results: mx\.bob\.example; iprev=pass/);
  assert.match(run.stdout, /status: bob@bob\.example: receipted/);
});

test('outpost demo --check exits non-zero and names the step when an outcome is missing', {
  timeout: 150_000,
}, async () => {
  // A step timeout too short for any mail to arrive: the first step that waits for a Maildir fails.
  const run = await runDemo(['--check', '--timeout', '120s', '--step-timeout', '1ms']);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, /demo check failed:\n\s+step 1 \(mail submitted at alice/);
});

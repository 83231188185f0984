import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { checkEntrySchema, compileChecks, DEFAULT_CHECK_TIMEOUT_MS } from '../../../src/pipeline/config.js';
import { checkRegistry } from '../../../src/pipeline/registry.js';
import { fakeCheck, reports } from './stage-checks.js';

test('timeouts: duration text, or milliseconds as the config loader hands them over', () => {
  const timeoutOf = (timeout: unknown) => compileChecks([{ use: 'mtamark', timeout }])[0]?.timeoutMs;
  assert.equal(timeoutOf('500ms'), 500);
  assert.equal(timeoutOf('1.5s'), 1500);
  assert.equal(timeoutOf(2500), 2500);
  for (const bad of ['5', '0s', 's', '-1s', 0, -5]) {
    assert.throws(() => timeoutOf(bad), /checks\[0\]\.timeout: expected a duration/, String(bad));
  }
});

test('every DNS sender check is registered under its configuration name', () => {
  for (const name of ['fcrdns', 'dnsbl', 'reverse-mx', 'mtamark', 'rmx', 'rttl']) {
    assert.equal(checkRegistry.get(name)?.check.name, name);
  }
});

test('a TOML check block compiles: actions from defaults and `on`, timeout, dry_run, options', () => {
  const config = parseToml(`
    [[checks]]
    use = "reverse-mx"
    on = { none = "quarantine" }
    timeout = "5s"
    flag_day = true

    [[checks]]
    use = "dnsbl"
    lists = ["bl.test", { zone = "other.test", weight = 2, codes = ["127.0.0.2"] }]
    dry_run = true
  `);
  const [reverseMx, dnsbl] = compileChecks(config.checks as unknown[]);
  assert.ok(reverseMx && dnsbl);
  assert.deepEqual(reverseMx.actions, {
    pass: 'accept',
    fail: 'reject',
    none: 'quarantine',
    neutral: 'accept',
    softfail: 'accept',
    temperror: 'defer',
    permerror: 'accept',
  });
  assert.equal(reverseMx.timeoutMs, 5000);
  assert.equal(reverseMx.stage, 'connect');
  assert.equal(reverseMx.dryRun, false);
  assert.equal(dnsbl.dryRun, true);
  assert.equal(dnsbl.timeoutMs, DEFAULT_CHECK_TIMEOUT_MS);
});

test('configuration errors name the block and key', () => {
  const cases: Array<[unknown[], RegExp]> = [
    [[{ use: 'no-such-check' }], /checks\[0\]\.use: unknown check "no-such-check"/],
    [[{ use: 'reverse-mx', flag_dya: true }], /checks\[0\]: .*flag_dya/],
    [[{ use: 'reverse-mx', on: { fail: 'bounce' } }], /checks\[0\]\.on\.fail: /],
    [[{ use: 'reverse-mx', on: { failed: 'reject' } }], /checks\[0\]\.on/],
    [[{ use: 'reverse-mx', timeout: '5 seconds' }], /checks\[0\]\.timeout: expected a duration/],
    [[{ use: 'mtamark' }, { use: 'mtamark' }], /checks\[1\]\.use: "mtamark" is configured twice/],
    [[{ use: 'rttl', lists: [{ zone: 't.test', min_trust: 4 }] }], /checks\[0\]\.lists\.0\.min_trust: /],
  ];
  for (const [entries, message] of cases) assert.throws(() => compileChecks(entries), message);
});

test('`after` dependencies that form a cycle are refused at startup', () => {
  const registry = new Map([
    fakeCheck('a', reports({ result: 'pass' }), { after: ['b'] }),
    fakeCheck('b', reports({ result: 'pass' }), { after: ['a'] }),
  ]);
  assert.throws(
    () => compileChecks([{ use: 'a' }, { use: 'b' }], registry),
    /"after" forms a cycle: a -> b -> a/,
  );
});

test('the entry schema reports check-specific problems with their full path inside a larger config', () => {
  const listeners = z.object({ checks: z.array(checkEntrySchema()) });
  const parsed = listeners.safeParse({
    checks: [{ use: 'reverse-mx' }, { use: 'dnsbl', lists: [], threshold: -1 }, { use: 'nope' }],
  });
  assert.equal(parsed.success, false);
  const paths = (parsed.error?.issues ?? []).map((issue) => issue.path.join('.'));
  assert.deepEqual(paths.sort(), ['checks.1.lists', 'checks.1.threshold', 'checks.2.use']);
});

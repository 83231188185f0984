import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { defaultConfigText } from '../../../src/config/defaults.js';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';
import { parseDuration, parseSize } from '../../../src/config/units.js';

test('the default config parses and spells out the documented defaults', () => {
  const config = parseConfig(parse(defaultConfigText()), 'outpost.toml', {});
  assert.equal(config.hostname, 'localhost');
  assert.deepEqual(config.domains, ['localhost']);
  assert.equal(config.listeners[0]?.address, '127.0.0.1:2525');
  assert.equal(config.listeners[0]?.max_message_size, 25 * 1024 * 1024);
  assert.equal(config.http.address, '127.0.0.1:8025');
  assert.equal(config.queue.max_age, 5 * 86_400_000);
  assert.ok((config.http.token ?? '').length >= 16);
});

test('errors name the file and the key path', () => {
  const raw = {
    listeners: [
      { name: 'mx', profile: 'mx', address: '127.0.0.1:2525' },
      { name: 'x', profile: 'nope', address: 'bad' },
    ],
  };
  assert.throws(
    () => parseConfig(raw, '/etc/outpost.toml', {}),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes('/etc/outpost.toml: listeners[1].profile:') &&
      error.message.includes('/etc/outpost.toml: listeners[1].address: expected "host:port"'),
  );
});

test('unknown keys are refused by name', () => {
  assert.throws(
    () => parseConfig({ queue: { max_agee: '5d' } }, 'c.toml', {}),
    /c\.toml: queue: unknown key\(s\) "max_agee"/,
  );
});

test('durations and sizes are parsed, and a bad one names the key', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('4h'), 14_400_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseSize('64KB'), 65536);
  assert.equal(parseSize('1.5mb'), 1572864);
  assert.throws(
    () => parseConfig({ queue: { max_age: 'forever' } }, 'c.toml', {}),
    /c\.toml: queue\.max_age: expected a duration/,
  );
});

test('duplicate listener names are refused', () => {
  const l = { name: 'mx', profile: 'mx', address: '127.0.0.1:2525' };
  assert.throws(
    () => parseConfig({ listeners: [l, { ...l, address: '127.0.0.1:2526' }] }, 'c.toml', {}),
    /listeners\[1\]\.name: duplicate/,
  );
});

test('environment overrides ports and the data dir', () => {
  const raw = {
    listeners: [{ name: 'mx', profile: 'mx', address: '127.0.0.1:2525' }],
    http: { address: '127.0.0.1:8025' },
  };
  const config = parseConfig(raw, 'c.toml', {
    OUTPOST_MX_PORT: '3525',
    OUTPOST_HTTP_PORT: '9025',
    OUTPOST_DATA_DIR: '/srv/x',
  });
  assert.equal(config.listeners[0]?.address, '127.0.0.1:3525');
  assert.equal(config.http.address, '127.0.0.1:9025');
  assert.equal(config.data_dir, '/srv/x');
});

test('a TOML syntax error names the file, line and column', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'outpost.toml');
  await writeFile(file, 'hostname = "a"\nlisteners = [\n');
  await assert.rejects(
    loadConfig(file, {}),
    (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${file}:`),
  );
  await assert.rejects(loadConfig(path.join(dir, 'missing.toml'), {}), /cannot read config file \(ENOENT\)/);
});

test("check blocks are validated with the check's own options, naming the listener and block", () => {
  const listener = (checks: unknown[]) => ({
    listeners: [{ name: 'mx', profile: 'mx', address: '127.0.0.1:2525', checks }],
  });
  assert.doesNotThrow(() =>
    parseConfig(listener([{ use: 'reverse-mx', on: { fail: 'reject' } }]), 'c.toml', {}),
  );
  assert.throws(
    () => parseConfig(listener([{ use: 'nope' }]), 'c.toml', {}),
    /c\.toml: listeners\[0\]\.checks\[0\]\.use: unknown check "nope"/,
  );
  assert.throws(
    () => parseConfig(listener([{ use: 'reverse-mx' }, { use: 'dnsbl', lists: 'x' }]), 'c.toml', {}),
    /c\.toml: listeners\[0\]\.checks\[1\]\.lists/,
  );
});

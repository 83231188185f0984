import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('./fixtures/dns-cli.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process ends first). */
  line(pattern: RegExp): Promise<string>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function outpostDns(t: TestContext, args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, 'dns', ...args], { cwd: PROJECT });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...waiters]) {
      const found = stdout.split('\n').find((text) => waiter.pattern.test(text));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return {
    child,
    done,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        done.then(({ stdout: out, stderr: err }) =>
          reject(new Error(`exited without ${pattern}: ${out}${err}`)),
        );
      }),
  };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-dns-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('dns serve answers dns query, reloads on SIGHUP, stops on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const zoneFile = join(dir, 'example.zone');
  await writeFile(zoneFile, '$ORIGIN example.test.\n@ MX 10 mx\nmx A 127.0.0.2\n');
  const serve = outpostDns(t, ['serve', '--zone', zoneFile, '--listen', '127.0.0.1:0']);
  const banner = await serve.line(/^dns: serving/);
  const address = /on (127\.0\.0\.1:\d+) \(UDP and TCP\)/.exec(banner)?.[1] ?? '';
  assert.match(banner, /^dns: serving example\.test on 127\.0\.0\.1:\d+/);

  const first = await outpostDns(t, ['query', 'example.test', 'mx', '--server', address]).done;
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n'), [
    `;; NOERROR from ${address} over UDP, authoritative`,
    'example.test. 3600 IN MX 10 mx.example.test.',
  ]);

  await writeFile(zoneFile, '$ORIGIN example.test.\n@ MX 20 other\n');
  serve.child.kill('SIGHUP');
  await serve.line(/^dns: reloaded example\.test/);
  const second = await outpostDns(t, ['query', 'example.test', 'MX', '--server', address]).done;
  assert.match(second.stdout, /^example\.test\. 3600 IN MX 20 other\.example\.test\.$/m);

  await writeFile(zoneFile, '$ORIGIN example.test.\n@ MX broken\n');
  serve.child.kill('SIGHUP');
  const missing = await outpostDns(t, ['query', 'gone.example.test', '--server', address]).done;
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^;; NXDOMAIN/);
  assert.match(missing.stdout, /^;; authority: example\.test\. 3600 IN SOA /m);

  serve.child.kill('SIGTERM');
  const ended = await serve.done;
  assert.equal(ended.code, 0);
  assert.match(ended.stderr, /reload failed, still serving the old zones: .*example\.zone:2: MX takes/);
  assert.match(ended.stdout, /dns: stopped/);
});

test('a bad zone file is one line on stderr and exit code 1', async (t) => {
  const dir = await tempDir(t);
  const zoneFile = join(dir, 'bad.zone');
  await writeFile(zoneFile, '$ORIGIN example.test.\nmx A 127.0.0.300\n');
  const { code, stdout, stderr } = await outpostDns(t, [
    'serve',
    '--zone',
    zoneFile,
    '--listen',
    '127.0.0.1:0',
  ]).done;
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.equal(stderr, `outpost dns serve: ${zoneFile}:2: not an IPv4 address: '127.0.0.300'\n`);
});

test('dns query reports a server that does not answer as one line', async (t) => {
  const { code, stderr } = await outpostDns(t, [
    'query',
    'x.test',
    'TXT',
    '--server',
    '127.0.0.1:9',
    '--timeout',
    '50',
  ]).done;
  assert.equal(code, 1);
  assert.match(stderr, /^outpost dns query: queryTxt ETIMEOUT x\.test \(127\.0\.0\.1:9: .*\)\n$/);
});

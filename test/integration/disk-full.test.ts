// A full disk must never lose or duplicate acknowledged mail: the data directory sits on a small
// tmpfs, clients send until outpost refuses with 452 4.3.1, the disk grows, the queue drains, and
// every message that got 250 is in the Maildir exactly once. Needs root (mount); skipped otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOutpostProcess } from '../helpers/outpost-process.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const TOKEN = 'test-token-0123456789';
const MAX_MESSAGES = 400;

/** Mounts a tmpfs of `size` at a new folder; undefined when this process may not mount. */
function mountTmpfs(size: string): string | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

const probe = mountTmpfs('1m');
if (probe) {
  execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
}
const skip = probe ? false : 'cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)';

async function api(port: number, method: string, route: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return response.json();
}

function tokensIn(mailbox: string): string[] {
  const tokens: string[] = [];
  for (const sub of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = readdirSync(path.join(mailbox, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const token = /^X-Token: (\S+)/m.exec(readFileSync(path.join(mailbox, sub, name), 'utf8'))?.[1];
      if (token) tokens.push(token);
    }
  }
  return tokens;
}

test('a full disk refuses with 452 4.3.1, loses nothing acknowledged, and recovers', { skip }, async (t) => {
  const data = mountTmpfs('6m');
  assert.ok(data);
  t.after(() => {
    execFileSync('umount', ['-l', data]);
    rmSync(data, { recursive: true, force: true });
  });
  writeFileSync(
    path.join(data, 'outpost.toml'),
    `hostname = "mx.test"\ndomains = ["localhost"]\nlog_level = "error"\n[http]\naddress = "127.0.0.1:0"\n` +
      `token = "${TOKEN}"\n[[listeners]]\nname = "mx"\nprofile = "mx"\naddress = "127.0.0.1:0"\n`,
  );
  const outpost = await startOutpostProcess(data);
  t.after(() => outpost.child.kill('SIGKILL'));

  const payload = `${'x'.repeat(76)}\r\n`.repeat(800); // about 62 KB
  const acknowledged: string[] = [];
  const refusals = new Map<string, number>();
  for (let i = 0; i < MAX_MESSAGES && (refusals.get('452 4.3.1') ?? 0) < 3; i++) {
    const client = await smtpConnect(outpost.smtpPort);
    const reply = await client.sendMail({
      from: 'load@example.org',
      to: ['postmaster@localhost'],
      body: `Subject: fill ${i}\r\nX-Token: t${i}\r\n\r\n${payload}`,
    });
    await client.close();
    if (reply.code === 250) acknowledged.push(`t${i}`);
    else {
      const key = `${reply.code} ${reply.enhanced}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
    }
  }
  assert.ok((refusals.get('452 4.3.1') ?? 0) > 0, `the disk filled up: ${JSON.stringify([...refusals])}`);
  assert.ok(acknowledged.length > 0, 'some messages were accepted before the disk filled');
  const stillServing = await smtpConnect(outpost.smtpPort);
  assert.equal(stillServing.greeting.code, 220, 'the server is still up');
  await stillServing.close();

  execFileSync('mount', ['-o', 'remount,size=256m', data]);
  const deadline = Date.now() + 60_000;
  let drained = false;
  while (!drained && Date.now() < deadline) {
    await api(outpost.httpPort, 'POST', '/api/queue/flush');
    const stats = (await api(outpost.httpPort, 'GET', '/api/queue/stats')) as {
      byStatus: Record<string, number>;
    };
    drained = (stats.byStatus.queued ?? 0) + (stats.byStatus.deferred ?? 0) === 0;
    if (!drained) await sleep(250);
  }
  assert.ok(drained, 'the queue drained once the disk had room');

  const delivered = tokensIn(path.join(data, 'mail/localhost/postmaster'));
  const counts = new Map<string, number>();
  for (const token of delivered) counts.set(token, (counts.get(token) ?? 0) + 1);
  assert.deepEqual(
    [...counts].filter(([, n]) => n > 1),
    [],
    'nothing delivered twice',
  );
  assert.deepEqual(
    acknowledged.filter((token) => !counts.has(token)),
    [],
    'every acknowledged message delivered',
  );
  t.diagnostic(`acknowledged ${acknowledged.length}, refusals ${JSON.stringify([...refusals])}`);
});

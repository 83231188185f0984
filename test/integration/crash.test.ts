// "250" means on disk: kill -9 the server while 300 clients are sending, start it again, and every
// message that was acknowledged must reach the Maildir exactly once (and nothing twice).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOutpostProcess, tempDataDir } from '../helpers/outpost-process.js';
import { smtpConnect } from '../helpers/smtp-client.js';

const CLIENTS = 300;
const KILL_AFTER_ACKS = 100;

/** Sends one message carrying `token`; resolves true only on a 250 to the final dot. */
async function sendToken(port: number, token: string): Promise<boolean> {
  try {
    const client = await smtpConnect(port);
    try {
      const reply = await client.sendMail({
        from: 'load@example.org',
        to: ['postmaster@localhost'],
        body: `Subject: crash test\r\nX-Token: ${token}\r\n\r\n${'payload line\r\n'.repeat(40)}`,
      });
      return reply.code === 250;
    } finally {
      await client.close().catch(() => undefined);
    }
  } catch {
    return false;
  }
}

async function tokensInMailbox(mailbox: string): Promise<string[]> {
  const tokens: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = path.join(mailbox, sub);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const text = await readFile(path.join(dir, name), 'utf8');
      const token = /^X-Token: (\S+)/m.exec(text)?.[1];
      if (token) tokens.push(token);
    }
  }
  return tokens;
}

async function queueDrained(httpPort: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/api/queue/stats`, {
    headers: { authorization: 'Bearer test-token-0123456789' },
  });
  const stats = (await response.json()) as { byStatus: Record<string, number> };
  return (stats.byStatus.queued ?? 0) + (stats.byStatus.deferred ?? 0) === 0;
}

test('kill -9 during 300 concurrent sends: every acknowledged message is delivered exactly once', async (t) => {
  const data = await tempDataDir(t, 'max_connections_per_ip = 400\n');
  const first = await startOutpostProcess(data);
  t.after(() => first.child.kill('SIGKILL'));

  const acknowledged: string[] = [];
  let killed = false;
  const sends = Array.from({ length: CLIENTS }, async (_, i) => {
    const token = `t${i}`;
    if (await sendToken(first.smtpPort, token)) {
      // A 250 read after the kill was still sent by the server before it died: it counts.
      acknowledged.push(token);
      if (acknowledged.length >= KILL_AFTER_ACKS && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    }
  });
  await Promise.all(sends);
  if (!killed) first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(acknowledged.length >= KILL_AFTER_ACKS, `at least ${KILL_AFTER_ACKS} acknowledged`);
  assert.ok(
    acknowledged.length < CLIENTS,
    'the kill interrupted the load (otherwise the test proves nothing)',
  );

  const second = await startOutpostProcess(data);
  t.after(() => second.child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (!(await queueDrained(second.httpPort)) && Date.now() < deadline) await sleep(200);
  assert.ok(await queueDrained(second.httpPort), 'the queue drained after the restart');

  const delivered = await tokensInMailbox(path.join(data, 'mail/localhost/postmaster'));
  const counts = new Map<string, number>();
  for (const token of delivered) counts.set(token, (counts.get(token) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([token]) => token);
  assert.deepEqual(duplicated, [], 'no message delivered twice');
  const lost = acknowledged.filter((token) => !counts.has(token));
  assert.deepEqual(lost, [], 'no acknowledged message lost');
  t.diagnostic(
    `acknowledged ${acknowledged.length} of ${CLIENTS}, delivered ${delivered.length} (unacknowledged but stored: ${delivered.length - acknowledged.length})`,
  );
});

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import { ensureMailbox } from '../../src/delivery/maildir/index.js';
import { reverseName } from '../../src/dns/names.js';
import { newQueueId } from '../../src/queue/ids.js';
import { dataLayout, type RunningOutpost, startOutpost } from '../../src/server/outpost.js';
import { startTestDns, type TestDns } from './dns.js';
import { freePort, waitFor } from './net.js';

/** One post office of the fake internet: a domain, its MX host on its own loopback address. */
export interface PostOfficeSpec {
  /** The mail domain, e.g. 'bob.example'; the MX host is mx.<domain>. */
  domain: string;
  /** Its own loopback address, e.g. '127.0.0.3'. */
  ip: string;
  users?: string[];
  /** Extra config keys merged over the defaults (listeners, queue, ...). */
  config?: Record<string, unknown>;
  /** Check blocks of its MX listener. */
  checks?: unknown[];
}

export interface PostOffice {
  domain: string;
  ip: string;
  hostname: string;
  port: number;
  config: Config;
  outpost: RunningOutpost;
  /** Message files in a mailbox folder ('' = INBOX, 'Junk'), oldest first. */
  mailbox(user: string, folder?: string): Promise<string[]>;
}

export interface FakeInternet {
  dns: TestDns;
  /** The SMTP port every post office listens on (each on its own address). */
  port: number;
  office(domain: string): PostOffice;
}

/** MX, A and PTR records of every post office, plus the caller's own zone text. */
function worldZone(offices: readonly PostOfficeSpec[], extra: string): string {
  const lines: string[] = [];
  for (const office of offices) {
    lines.push(`$ORIGIN ${office.domain}.`, `@ MX 10 mx.${office.domain}.`, `mx A ${office.ip}`);
  }
  lines.push('$ORIGIN 127.in-addr.arpa.');
  for (const office of offices) lines.push(`${reverseName(office.ip)}. PTR mx.${office.domain}.`);
  return `${lines.join('\n')}\n${extra}`;
}

/**
 * Starts the fake internet: our DNS server with the world's records, and one outpost per
 * post office on its own 127.0.0.x address, all resolving through that DNS server. Everything is
 * stopped and removed when the test ends.
 */
export async function fakeInternet(
  t: TestContext,
  world: { offices: PostOfficeSpec[]; zone?: string },
): Promise<FakeInternet> {
  const dns = await startTestDns(t, worldZone(world.offices, world.zone ?? ''));
  const port = await freePort();
  const offices = new Map<string, PostOffice>();
  for (const spec of world.offices) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `outpost-${spec.domain}-`));
    const hostname = `mx.${spec.domain}`;
    const config = parseConfig(
      {
        hostname,
        data_dir: dataDir,
        domains: [spec.domain],
        http: { address: `${spec.ip}:0`, token: 'fake-internet-token-000' },
        dns: { servers: [dns.serverAddress], timeout: '1s' },
        listeners: [{ name: 'mx', profile: 'mx', address: `${spec.ip}:${port}`, checks: spec.checks ?? [] }],
        ...spec.config,
      },
      `<fake internet: ${spec.domain}>`,
      {},
    );
    const outpost = await startOutpost(config, silentLogger()).catch(async (error: unknown) => {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    });
    // node:test runs after-hooks in the order they were added: stop first, then remove its data.
    t.after(async () => {
      await outpost.stop({ timeoutMs: 1000 });
      await rm(dataDir, { recursive: true, force: true });
    });
    const mail = dataLayout(config).mail;
    for (const user of spec.users ?? []) {
      const address = `${user}@${spec.domain}`;
      await ensureMailbox(mail, address);
      await outpost.store.addUser({ address, settings: {}, createdAt: Date.now() });
    }
    offices.set(spec.domain, {
      domain: spec.domain,
      ip: spec.ip,
      hostname,
      port,
      config,
      outpost,
      async mailbox(user, folder = '') {
        const dir = path.join(mail, spec.domain, user, folder ? `.${folder}` : '', 'new');
        const names = await readdir(dir).catch(() => [] as string[]);
        return names.sort().map((name) => path.join(dir, name));
      },
    });
  }
  return {
    dns,
    port,
    office(domain) {
      const office = offices.get(domain);
      if (!office) throw new Error(`no post office ${domain} in this fake internet`);
      return office;
    },
  };
}

/** Reads a delivered message file. */
export function readMessage(file: string): Promise<string> {
  return readFile(file, 'utf8');
}

/** Waits (bounded) until a mailbox folder ('' = INBOX) holds `count` messages; returns their texts. */
export async function messagesIn(
  office: PostOffice,
  user: string,
  folder: string,
  count: number,
): Promise<string[]> {
  const files = await waitFor(
    `${count} message(s) in ${user}@${office.domain} ${folder || 'INBOX'}`,
    async () => {
      const found = await office.mailbox(user, folder);
      return found.length >= count ? found : undefined;
    },
  );
  return Promise.all(files.map(readMessage));
}

/** Queues a message at `office` for one remote recipient: it leaves by the outpost's own SMTP delivery. */
export async function sendThrough(
  office: PostOffice,
  from: string,
  to: string,
  body: string,
): Promise<string> {
  const id = newQueueId();
  await office.outpost.store.enqueue({
    id,
    sender: from,
    body: Buffer.from(body.replace(/\r?\n/g, '\r\n')),
    receivedAt: Date.now(),
    meta: { test: 'fake-internet' },
    recipients: [{ address: to, target: 'smtp' }],
  });
  office.outpost.runner.kick();
  return id;
}

/** Waits (bounded) until the sending outpost reports a final status for its only recipient. */
export async function finalStatus(
  office: PostOffice,
  id: string,
): Promise<{ status: string; lastReply?: string }> {
  return waitFor(`a final status for ${id} at ${office.domain}`, async () => {
    const row = (await office.outpost.store.message(id))?.recipients[0];
    return row && ['delivered', 'failed', 'expired'].includes(row.status) ? row : undefined;
  });
}

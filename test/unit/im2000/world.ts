// A small IM2000 world on loopback for tests and the benchmark: our DNS server with each domain's
// SRV, key, A and PTR records, a test CA, and one post office per domain on its own 127.0.0.x.
import type { KeyObject } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { generate } from 'selfsigned';
import { ensureMailbox } from '../../../src/delivery/maildir/index.js';
import { reverseName } from '../../../src/dns/names.js';
import { type CachingResolver, createResolver } from '../../../src/dns/resolver.js';
import { startDnsServer } from '../../../src/dns/server.js';
import { ZoneSet } from '../../../src/dns/zone.js';
import { parseZoneFile } from '../../../src/dns/zonefile.js';
import { buildPostOfficeApp } from '../../../src/im2000/app.js';
import { generateSigningKey, im2000DnsRecords } from '../../../src/im2000/keys.js';
import { createNoticePolicy } from '../../../src/im2000/policy.js';
import { PostOffice, type PostOfficeOptions } from '../../../src/im2000/post-office.js';

/** What the world needs of a test context: somewhere to register cleanup (node:test's t, or the bench's). */
export interface Cleanup {
  after(fn: () => unknown): void;
}

export const API_TOKEN = 'im2000-test-token-0123456789';

export interface OfficeSpec {
  domain: string;
  ip: string;
  users?: string[];
  /** Publish a PTR for the post office's address (default true). */
  ptr?: boolean;
  /** Start it with the world (default true); else call office.start() later. */
  start?: boolean;
  options?: Partial<PostOfficeOptions>;
  /** Mailboxes published as feeds. */
  publicFeeds?: string[];
}

export interface Office {
  domain: string;
  ip: string;
  host: string;
  port: number;
  baseUrl: string;
  key: KeyObject;
  dataDir: string;
  mailRoot: string;
  postOffice: PostOffice | undefined;
  /** Post office options for the next start(), over the world's defaults and the spec's. */
  options: Partial<PostOfficeOptions>;
  /** The running post office (throws when it is not started). */
  running(): PostOffice;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Files in a user's INBOX new/. */
  inbox(user: string): Promise<string[]>;
}

export interface World {
  dns: { resolver: CachingResolver; serverAddress: string };
  caCert: string;
  office(domain: string): Office;
}

/** Whichever scheme the world uses: https with the test CA, or plain http. */
export interface WorldOptions {
  offices: OfficeSpec[];
  zone?: string;
  tls?: boolean;
}

async function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, ip, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function makeCa(): Promise<{ key: string; cert: string }> {
  const ca = await generate([{ name: 'commonName', value: 'outpost test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { key: ca.private, cert: ca.cert };
}

async function serverCertificate(ca: { key: string; cert: string }, host: string) {
  const pems = await generate([{ name: 'commonName', value: host }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: host }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** Our DNS server on 127.0.0.1 with the world's zones, and a resolver that asks only it. */
async function startDns(t: Cleanup, zoneText: string): Promise<World['dns']> {
  const zones = new ZoneSet();
  zones.replaceAll(parseZoneFile(zoneText, { fileName: 'im2000 world', defaultTtl: 300 }));
  const server = await startDnsServer({ address: '127.0.0.1', port: 0, zones });
  t.after(() => server.close());
  const serverAddress = `127.0.0.1:${server.port}`;
  return { resolver: createResolver({ servers: [serverAddress], timeoutMs: 1000, tries: 2 }), serverAddress };
}

/** Starts the DNS server and the post offices; everything stops and is removed when the test ends. */
export async function im2000World(t: Cleanup, world: WorldOptions): Promise<World> {
  const tls = world.tls ?? true;
  const ca = tls ? await makeCa() : undefined;
  const planned = await Promise.all(
    world.offices.map(async (spec) => ({
      spec,
      host: `po.${spec.domain}`,
      port: await freePort(spec.ip),
      key: generateSigningKey(),
    })),
  );
  const lines: string[] = [];
  for (const { spec, host, port, key } of planned) {
    lines.push(`$ORIGIN ${spec.domain}.`, `@ A ${spec.ip}`, `po A ${spec.ip}`);
    lines.push(...im2000DnsRecords({ domain: spec.domain, postOfficeHost: host, port, key, ttl: 60 }));
  }
  lines.push('$ORIGIN 127.in-addr.arpa.');
  for (const { spec, host } of planned)
    if (spec.ptr !== false) lines.push(`${reverseName(spec.ip)}. PTR ${host}.`);
  const dns = await startDns(t, `${lines.join('\n')}\n${world.zone ?? ''}\n`);
  const offices = new Map<string, Office>();
  for (const { spec, host, port, key } of planned) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `outpost-im2000-${spec.domain}-`));
    const mailRoot = path.join(dataDir, 'mail');
    for (const user of spec.users ?? []) await ensureMailbox(mailRoot, `${user}@${spec.domain}`);
    const certificate = ca ? await serverCertificate(ca, host) : undefined;
    const baseUrl = `${tls ? 'https' : 'http'}://${host}:${port}`;
    let app: FastifyInstance | undefined;
    const office: Office = {
      domain: spec.domain,
      ip: spec.ip,
      host,
      port,
      baseUrl,
      key,
      dataDir,
      mailRoot,
      postOffice: undefined,
      options: {},
      running() {
        if (office.postOffice === undefined) throw new Error(`${spec.domain} is not running`);
        return office.postOffice;
      },
      async start() {
        const postOffice = new PostOffice({
          dataDir,
          mailRoot,
          domains: [spec.domain],
          postOfficeHost: host,
          publicBaseUrl: baseUrl,
          signingKey: key,
          dns: dns.resolver,
          policy: createNoticePolicy({ dns: dns.resolver }),
          ...(ca ? { tlsCa: ca.cert } : { plainHttp: true }),
          retrySchedule: [0, 100, 200, 400],
          pollIntervalMs: 50,
          requestTimeoutMs: 2000,
          ...spec.options,
          ...office.options,
        });
        app = await buildPostOfficeApp(postOffice, {
          apiToken: API_TOKEN,
          ...(certificate ? { tls: certificate } : {}),
          feeds: { mailRoot, publicFeeds: spec.publicFeeds ?? [], baseUrl },
        });
        await app.listen({ host: spec.ip, port });
        postOffice.start();
        office.postOffice = postOffice;
      },
      async stop() {
        await app?.close();
        await office.postOffice?.close();
        app = undefined;
        office.postOffice = undefined;
      },
      async inbox(user) {
        const dir = path.join(mailRoot, spec.domain, user, 'new');
        return (await readdir(dir).catch(() => [] as string[])).sort().map((name) => path.join(dir, name));
      },
    };
    t.after(async () => {
      await office.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    if (spec.start !== false) await office.start();
    offices.set(spec.domain, office);
  }
  return {
    dns,
    caCert: ca?.cert ?? '',
    office(domain) {
      const office = offices.get(domain);
      if (!office) throw new Error(`no post office ${domain} in this world`);
      return office;
    },
  };
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
export async function eventually<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The demo's fake internet in one process: our authoritative DNS server publishing three mail
// domains, their reverse DNS, DKIM and IM2000 keys and a trust list; and one running outpost per
// domain on its own loopback address, all resolving through that DNS server.
import type { KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { hashPassword } from '../core/password.js';
import { ensureMailbox } from '../delivery/maildir/index.js';
import { dkimRecordName, dkimTxtRecord, generateDkimKey, saveDkimKey } from '../dkim/keys.js';
import { reverseName } from '../dns/names.js';
import { type DnsServer, startDnsServer } from '../dns/server.js';
import { ZoneSet } from '../dns/zone.js';
import { parseZoneFile } from '../dns/zonefile.js';
import { generateSigningKey, im2000DnsRecords, SIGNING_KEY_FILE, saveSigningKey } from '../im2000/keys.js';
import { dataLayout, type RunningOutpost, startOutpost } from '../server/outpost.js';
import { createDemoCa, type Pem, serverCertificate } from './certificates.js';
import { eventLogger, type Printer } from './events.js';
import { portFreeOnAll } from './ports.js';

/** The trust list every trusted MX of the demo asks; alice's server is on it, carol's is not. */
export const TRUST_LIST = 'trust.example';
/** The listing of every listed server: category 3 (email service provider), trust 3 (high). */
const LISTING = '127.0.3.3';
/** Password of every demo user (loopback only; printed for the swaks examples). */
export const DEMO_PASSWORD = 'demo-password-123';
const API_TOKEN = 'outpost-demo-token-0123456789';
const CA_FILE = 'demo-ca.pem';
const DKIM_SELECTOR = 'demo';
const SERVER_SELECTOR = 'server';

/** One post office of the demo, before it runs. */
interface OfficePlan {
  name: 'alice' | 'bob' | 'carol';
  domain: string;
  /** Host name of its (trusted) MX, its EHLO name and IM2000 host. */
  hostname: string;
  ip: string;
  /** A second, untrusted MX host (bob): MX 20, mx-untrusted listener. */
  untrusted?: { hostname: string; ip: string };
  /** Signs with a sender-domain key and a host "server signature" key, publishes DMARC. */
  signs: boolean;
  /** Listed on the trust list. */
  listed: boolean;
  im2000: boolean;
}

const PLANS: readonly OfficePlan[] = [
  {
    name: 'alice',
    domain: 'alice.example',
    hostname: 'mx.alice.example',
    ip: '127.0.0.2',
    signs: true,
    listed: true,
    im2000: true,
  },
  {
    name: 'bob',
    domain: 'bob.example',
    hostname: 'mx.bob.example',
    ip: '127.0.0.3',
    untrusted: { hostname: 'mx2.bob.example', ip: '127.0.0.4' },
    signs: true,
    listed: false,
    im2000: true,
  },
  {
    name: 'carol',
    domain: 'carol.example',
    hostname: 'mx.carol.example',
    ip: '127.0.0.5',
    signs: false,
    listed: false,
    im2000: false,
  },
];

export interface DemoOffice {
  name: OfficePlan['name'];
  domain: string;
  hostname: string;
  ip: string;
  untrusted?: { hostname: string; ip: string };
  dataDir: string;
  config: Config;
  outpost: RunningOutpost;
  /** The Maildir folder `new/` of a user ('' = INBOX, 'Junk'). */
  folder(user: string, folder?: string): string;
  /** Where the HTTP API and /admin listen. */
  httpUrl: string;
}

export interface DemoPorts {
  /** The "port 25" of the demo: every MX listener, each on its own address. */
  smtp: number;
  submission: number;
  im2000: number;
}

export interface DemoWorld {
  root: string;
  dns: DnsServer;
  dnsAddress: string;
  ports: DemoPorts;
  caCert: string;
  office(name: OfficePlan['name']): DemoOffice;
  offices: DemoOffice[];
  stop(): Promise<void>;
}

/** The keys one office publishes, made before it starts. */
interface OfficeKeys {
  dkim: { domain: string; selector: string; record: string }[];
  im2000?: KeyObject;
}

async function makeKeys(plan: OfficePlan, dataDir: string): Promise<OfficeKeys> {
  const keys: OfficeKeys = { dkim: [] };
  if (plan.signs) {
    for (const [domain, selector] of [
      [plan.domain, DKIM_SELECTOR],
      [plan.hostname, SERVER_SELECTOR],
    ] as const) {
      const key = await generateDkimKey('ed25519-sha256');
      await saveDkimKey(dataDir, domain, selector, key);
      keys.dkim.push({ domain, selector, record: dkimTxtRecord(key) });
    }
  }
  if (plan.im2000) {
    keys.im2000 = generateSigningKey();
    await saveSigningKey(path.join(dataDir, SIGNING_KEY_FILE), keys.im2000);
  }
  return keys;
}

/** The zone text of the whole demo: domains, hosts, keys, policies, the trust list, reverse DNS. */
function worldZone(
  plans: readonly OfficePlan[],
  keys: ReadonlyMap<string, OfficeKeys>,
  ports: DemoPorts,
): string {
  const lines: string[] = [];
  for (const plan of plans) {
    lines.push(
      `$ORIGIN ${plan.domain}.`,
      `@ MX 10 ${plan.hostname}.`,
      `${plan.hostname}. A ${plan.ip}`,
      `@ TXT "v=spf1 ip4:${plan.ip} -all"`,
    );
    if (plan.untrusted) {
      lines.push(`@ MX 20 ${plan.untrusted.hostname}.`, `${plan.untrusted.hostname}. A ${plan.untrusted.ip}`);
    }
    if (plan.signs) lines.push(`_dmarc TXT "v=DMARC1; p=reject"`);
    const officeKeys = keys.get(plan.name);
    for (const key of officeKeys?.dkim ?? []) {
      lines.push(`${dkimRecordName(key.selector, key.domain)}. TXT "${key.record}"`);
    }
    if (officeKeys?.im2000) {
      lines.push(
        ...im2000DnsRecords({
          domain: plan.domain,
          postOfficeHost: plan.hostname,
          port: ports.im2000,
          key: officeKeys.im2000,
          ttl: 60,
        }),
      );
    }
  }
  lines.push(`$ORIGIN ${TRUST_LIST}.`, '@ TXT "the outpost demo trust list"');
  for (const plan of plans.filter((p) => p.listed)) {
    const name = reverseName(plan.ip).replace('.in-addr.arpa', '');
    lines.push(`${name} A ${LISTING}`, `${name} TXT "${plan.domain}: listed by the demo trust list"`);
  }
  lines.push('$ORIGIN 127.in-addr.arpa.');
  for (const plan of plans) {
    lines.push(`${reverseName(plan.ip)}. PTR ${plan.hostname}.`);
    if (plan.untrusted) lines.push(`${reverseName(plan.untrusted.ip)}. PTR ${plan.untrusted.hostname}.`);
  }
  return `${lines.join('\n')}\n`;
}

function listeners(plan: OfficePlan, ports: DemoPorts): unknown[] {
  const submission = { name: 'submission', profile: 'submission', address: `${plan.ip}:${ports.submission}` };
  if (!plan.untrusted)
    return [{ name: 'mx', profile: 'mx', address: `${plan.ip}:${ports.smtp}` }, submission];
  return [
    {
      name: 'mx-trusted',
      profile: 'mx-trusted',
      address: `${plan.ip}:${ports.smtp}`,
      checks: [{ use: 'rttl', lists: [{ zone: TRUST_LIST, min_trust: 1 }] }],
    },
    { name: 'mx-untrusted', profile: 'mx-untrusted', address: `${plan.untrusted.ip}:${ports.smtp}` },
    submission,
  ];
}

function officeConfig(plan: OfficePlan, dataDir: string, dnsAddress: string, ports: DemoPorts): Config {
  return parseConfig(
    {
      hostname: plan.hostname,
      data_dir: dataDir,
      domains: [plan.domain],
      log_level: 'info',
      http: { address: `${plan.ip}:0`, token: API_TOKEN },
      dns: { servers: [dnsAddress], timeout: '2s' },
      listeners: listeners(plan, ports),
      delivery: {
        smtp: {
          port: ports.smtp,
          local_address: plan.ip,
          connect_timeout: '5s',
          command_timeout: '15s',
          data_timeout: '15s',
          idle_timeout: '1s',
        },
      },
      queue: { poll: 200, retry: ['2s', '5s', '30s'], warn_after: '1h' },
      ...(plan.im2000
        ? {
            im2000: {
              enabled: true,
              address: `${plan.ip}:${ports.im2000}`,
              public_base_url: `https://${plan.hostname}:${ports.im2000}`,
              ca_file: CA_FILE,
              // SMTP mail stays SMTP in the demo, so steps 1 to 4 show SMTP; step 5 sends IM2000.
              prefer_for_smtp: false,
            },
          }
        : {}),
    },
    `<outpost demo: ${plan.domain}>`,
    {},
  );
}

/** TLS certificate for the office's host names, signed by the demo CA, where [tls] expects it. */
async function installCertificate(config: Config, ca: Pem, plan: OfficePlan): Promise<void> {
  const hosts = [plan.hostname, ...(plan.untrusted ? [plan.untrusted.hostname] : [])];
  const pem = await serverCertificate(ca, hosts);
  const layout = dataLayout(config);
  await mkdir(path.dirname(layout.cert), { recursive: true });
  await writeFile(layout.key, pem.key, { mode: 0o600 });
  await writeFile(layout.cert, pem.cert);
  await writeFile(path.join(config.data_dir, CA_FILE), ca.cert);
}

async function addUser(outpost: RunningOutpost, mailRoot: string, address: string): Promise<void> {
  await ensureMailbox(mailRoot, address);
  await outpost.store.addUser({
    address,
    passwordHash: await hashPassword(DEMO_PASSWORD),
    settings: {},
    createdAt: Date.now(),
  });
}

async function distinctPorts(hosts: readonly string[]): Promise<DemoPorts> {
  const smtp = await portFreeOnAll(hosts);
  let submission = await portFreeOnAll(hosts);
  while (submission === smtp) submission = await portFreeOnAll(hosts);
  let im2000 = await portFreeOnAll(hosts);
  while (im2000 === smtp || im2000 === submission) im2000 = await portFreeOnAll(hosts);
  return { smtp, submission, im2000 };
}

/**
 * Starts the demo world in a fresh temporary folder; `print` receives what the post offices do.
 * stop() ends every server and removes the folder.
 */
export async function startDemoWorld(print: Printer): Promise<DemoWorld> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'outpost-demo-'));
  const stoppers: (() => Promise<void>)[] = [() => rm(root, { recursive: true, force: true })];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const hosts = PLANS.flatMap((plan) => [plan.ip, ...(plan.untrusted ? [plan.untrusted.ip] : [])]);
    const ports = await distinctPorts(hosts);
    const ca = await createDemoCa();
    const keys = new Map<string, OfficeKeys>();
    const dataDirs = new Map<string, string>();
    for (const plan of PLANS) {
      const dataDir = path.join(root, plan.name);
      await mkdir(dataDir, { recursive: true });
      dataDirs.set(plan.name, dataDir);
      keys.set(plan.name, await makeKeys(plan, dataDir));
    }
    const zones = new ZoneSet();
    zones.replaceAll(
      parseZoneFile(worldZone(PLANS, keys, ports), { fileName: 'outpost demo', defaultTtl: 60 }),
    );
    const dns = await startDnsServer({ address: '127.0.0.1', port: 0, zones });
    stoppers.push(() => dns.close());
    const dnsAddress = `127.0.0.1:${dns.port}`;

    const offices: DemoOffice[] = [];
    for (const plan of PLANS) {
      const dataDir = dataDirs.get(plan.name) ?? path.join(root, plan.name);
      const config = officeConfig(plan, dataDir, dnsAddress, ports);
      await installCertificate(config, ca, plan);
      const outpost = await startOutpost(config, eventLogger(plan.name, print));
      stoppers.push(() => outpost.stop({ timeoutMs: 1000 }));
      const mailRoot = dataLayout(config).mail;
      await addUser(outpost, mailRoot, `${plan.name}@${plan.domain}`);
      const http = outpost.listening.find((entry) => entry.name === 'http');
      offices.push({
        name: plan.name,
        domain: plan.domain,
        hostname: plan.hostname,
        ip: plan.ip,
        ...(plan.untrusted ? { untrusted: plan.untrusted } : {}),
        dataDir,
        config,
        outpost,
        folder: (user, folder = '') =>
          path.join(mailRoot, plan.domain, user, folder === '' ? '' : `.${folder}`, 'new'),
        httpUrl: http ? `http://${http.address}:${http.port}` : '(no HTTP API)',
      });
    }
    return {
      root,
      dns,
      dnsAddress,
      ports,
      caCert: ca.cert,
      offices,
      office(name) {
        const office = offices.find((candidate) => candidate.name === name);
        if (!office) throw new Error(`no post office ${name} in the demo`);
        return office;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

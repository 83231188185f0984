// What the full check set costs per message: latency from the end of DATA (the final dot) to the
// reply, and for the whole transaction, on a listener without checks and on one with every check,
// with the DNS cache warm and cold; and how many DNS queries our DNS server sees per message.
// Usage: npx tsx bench/checks/run.ts [--messages N] [--no-antivirus] [--out FILE]
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { arcSeal } from '../../src/arc/seal.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/log.js';
import { ensureMailbox } from '../../src/delivery/maildir/index.js';
import { type DkimSigningKey, dkimTxtRecord, generateDkimKey } from '../../src/dkim/keys.js';
import { signMessage } from '../../src/dkim/sign.js';
import { startDnsServer } from '../../src/dns/server.js';
import { ZoneSet } from '../../src/dns/zone.js';
import { parseZoneFile } from '../../src/dns/zonefile.js';
import { cookieFor, encodeCookie } from '../../src/gen/chain.js';
import { dataLayout, startOutpost } from '../../src/server/outpost.js';
import { type Cleanup, clamdMissingReason, startClamd } from '../../test/helpers/clamd.js';
import { encodeBody, smtpConnect } from '../../test/helpers/smtp-client.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    'no-antivirus': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const MESSAGES = Math.min(Math.max(Number(values.messages), 10), 10_000);
const WARMUP = 20;
const CLIENT = '127.0.0.20';
const RECEIVER = 'receiver.test';
const USER = `bob@${RECEIVER}`;
const GEN = { zone: 'gen.test', seed: randomBytes(32), length: 10, epoch: 5 };

/** The sender's world: FCrDNS, Reverse MX, MTAMark, SPF, RMX, DMARC, DKIM and ARC keys, the lists. */
function zoneText(senderKey: DkimSigningKey, forwarderKey: DkimSigningKey): string {
  return `$ORIGIN sender.test.
@ TXT "v=spf1 ip4:${CLIENT} -all"
_rmx TXT "ip4:${CLIENT} -all"
_dmarc TXT "v=DMARC1; p=reject"
mail A ${CLIENT}
sel._domainkey TXT "${dkimTxtRecord(senderKey)}"
$ORIGIN forwarder.test.
arc._domainkey TXT "${dkimTxtRecord(forwarderKey)}"
$ORIGIN 127.in-addr.arpa.
20.0.0 PTR mail.sender.test.
0.0 MX 10 mail.sender.test.
_send._smtp._srv.20.0.0 TXT "1"
$ORIGIN bl.test.
@ TXT "block list"
$ORIGIN trust.test.
@ TXT "trust list"
20.0.0.127 A 127.0.3.2
20.0.0.127 TXT "bench listing"
`;
}

/** Every check outpost has, each with an `on` table that refuses what fails. */
function fullCheckSet(dataDir: string, clamdAddress: string | undefined): Record<string, unknown>[] {
  const refuse = { fail: 'reject', temperror: 'defer' };
  return [
    { use: 'fcrdns', on: { fail: 'quarantine' } },
    { use: 'dnsbl', lists: ['bl.test'], on: refuse },
    { use: 'rttl', lists: ['trust.test'], on: { none: 'quarantine', temperror: 'defer' } },
    { use: 'reverse-mx', on: refuse },
    { use: 'mtamark', on: refuse },
    { use: 'spf', on: refuse },
    { use: 'rmx', on: refuse },
    {
      use: 'gen-cookie',
      zone: GEN.zone,
      epoch: GEN.epoch,
      cookie: encodeCookie(cookieFor(GEN.seed, GEN.zone, GEN.length, GEN.epoch)),
      on: { fail: 'reject' },
    },
    { use: 'greylist', path: path.join(dataDir, 'greylist.db'), on: { fail: 'defer' } },
    { use: 'dkim', on: { fail: 'quarantine' } },
    { use: 'dmarc', on: { temperror: 'defer' } },
    { use: 'arc', on: { fail: 'quarantine' } },
    { use: 'server-signature', on: { fail: 'reject', none: 'reject', temperror: 'defer' } },
    ...(clamdAddress === undefined ? [] : [{ use: 'antivirus', address: clamdAddress, on: refuse }]),
  ];
}

/** A 2 KB message from sender.test, DKIM-signed by it and ARC-sealed by forwarder.test. */
async function benchMessage(senderKey: DkimSigningKey, forwarderKey: DkimSigningKey): Promise<string> {
  const body = 'This is a line of a message body used by the check bench.\r\n'.repeat(30);
  const plain = Buffer.from(
    `From: Alice <alice@sender.test>\r\nTo: <${USER}>\r\nSubject: bench\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <bench@sender.test>\r\n\r\n${body}`,
  );
  const dkim = await signMessage(plain, [senderKey], { domain: 'sender.test' });
  const set = await arcSeal(dkim, {
    domain: 'forwarder.test',
    selector: 'arc',
    privateKey: forwarderKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    authservId: 'mx.forwarder.test',
    authResults: 'dkim=pass header.d=sender.test',
  });
  return encodeBody(Buffer.concat([Buffer.from(set.headers), dkim]).toString('latin1'));
}

interface Timing {
  /** Final dot sent -> reply read. */
  dataMs: number;
  /** Connect -> reply to the final dot. */
  totalMs: number;
}

/** One transaction on a new connection, as an MTA sends it; throws unless it is accepted. */
async function sendOne(port: number, wireBody: string, xgen: boolean): Promise<Timing> {
  const start = performance.now();
  const client = await smtpConnect(port, '127.0.0.1', { localAddress: CLIENT });
  try {
    const expect = async (line: string, code: number) => {
      const reply = await client.send(line);
      if (reply.code !== code) throw new Error(`${line} -> ${reply.code} ${reply.text}`);
    };
    await expect('EHLO mail.sender.test', 250);
    if (xgen) {
      const cookie = encodeCookie(cookieFor(GEN.seed, GEN.zone, GEN.length, GEN.epoch));
      await expect(`XGEN ${GEN.zone} ${GEN.epoch} ${cookie}`, 250);
    }
    await expect('MAIL FROM:<alice@sender.test>', 250);
    await expect(`RCPT TO:<${USER}>`, 250);
    await expect('DATA', 354);
    const dot = performance.now();
    client.sendRaw(wireBody);
    const reply = await client.readReply();
    const end = performance.now();
    if (reply.code !== 250) throw new Error(`end of data -> ${reply.code} ${reply.text}`);
    client.sendRaw('QUIT\r\n');
    return { dataMs: end - dot, totalMs: end - start };
  } finally {
    await client.close();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Mode {
  name: string;
  listener: string;
  /** Empty the resolver's cache before each message. */
  cold: boolean;
  timings: Timing[];
  queries: number;
}

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const cleanup: Cleanup = { after: (fn) => cleanups.push(fn) };
  try {
    const [senderKeyPair, forwarderKeyPair] = await Promise.all([
      generateDkimKey('rsa-sha256'),
      generateDkimKey('rsa-sha256'),
    ]);
    const senderKey: DkimSigningKey = { selector: 'sel', ...senderKeyPair };
    const forwarderKey: DkimSigningKey = { selector: 'arc', ...forwarderKeyPair };
    const zones = new ZoneSet();
    zones.replaceAll(
      parseZoneFile(zoneText(senderKey, forwarderKey), { fileName: 'bench zone', defaultTtl: 300 }),
    );
    const dns = await startDnsServer({ address: '127.0.0.1', port: 0, zones });
    cleanups.push(() => dns.close());
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-checks-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const useClamd = !values['no-antivirus'] && clamdMissingReason() === undefined;
    const clamd = useClamd ? await startClamd(cleanup) : undefined;
    const config = parseConfig(
      {
        hostname: `mx.${RECEIVER}`,
        data_dir: dataDir,
        domains: [RECEIVER],
        log_level: 'silent',
        http: { address: '127.0.0.1:0', token: 'bench-checks-token-000' },
        dns: { servers: [`127.0.0.1:${dns.port}`], timeout: '2s' },
        listeners: [
          { name: 'bare', profile: 'mx', address: '127.0.0.1:0' },
          {
            name: 'full',
            profile: 'mx',
            address: '127.0.0.1:0',
            checks: fullCheckSet(dataDir, clamd?.address),
          },
        ],
      },
      '<bench checks>',
      {},
    );
    const outpost = await startOutpost(config, silentLogger());
    cleanups.push(() => outpost.stop({ timeoutMs: 2000 }));
    await ensureMailbox(dataLayout(config).mail, USER);
    await outpost.store.addUser({ address: USER, settings: {}, createdAt: Date.now() });
    const portOf = (name: string) => outpost.listening.find((entry) => entry.name === name)?.port ?? 0;
    const wireBody = await benchMessage(senderKey, forwarderKey);

    const modes: Mode[] = [
      { name: 'no checks', listener: 'bare', cold: false, timings: [], queries: 0 },
      { name: 'full check set, warm DNS cache', listener: 'full', cold: false, timings: [], queries: 0 },
      { name: 'full check set, cold DNS cache', listener: 'full', cold: true, timings: [], queries: 0 },
    ];
    for (let i = 0; i < WARMUP; i++) {
      for (const mode of modes) await sendOne(portOf(mode.listener), wireBody, mode.listener === 'full');
    }
    const queriesNow = () => dns.stats().udpQueries + dns.stats().tcpQueries;
    // Interleaved, so every mode sees the same load on a shared machine.
    for (let i = 0; i < MESSAGES; i++) {
      for (const mode of modes) {
        if (mode.cold) outpost.resolver.clear();
        const before = queriesNow();
        mode.timings.push(await sendOne(portOf(mode.listener), wireBody, mode.listener === 'full'));
        mode.queries += queriesNow() - before;
      }
    }
    const authResults = await deliveredAuthResults(path.join(dataLayout(config).mail, RECEIVER, 'bob'));
    const report = formatReport(modes, {
      antivirus: clamd !== undefined,
      bytes: wireBody.length,
      authResults,
    });
    process.stdout.write(report);
    if (values.out !== undefined) await writeFile(values.out, report);
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

/**
 * The Authentication-Results of a message the full check set accepted (unfolded), to show that every
 * check passed rather than refused or quarantined; waits (bounded) for the queue to deliver one.
 */
async function deliveredAuthResults(mailbox: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const folder of ['new', '.Junk/new']) {
      const dir = path.join(mailbox, folder);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const text = (await readFile(path.join(dir, name), 'utf8')).replace(/\r\n[ \t]+/g, ' ');
        const field = /^Authentication-Results: mx\.receiver\.test; (?!none).*$/m.exec(text)?.[0];
        if (field !== undefined) return `${folder === 'new' ? 'INBOX' : 'Junk'}: ${field}`;
      }
    }
    await sleep(50);
  }
  throw new Error('no message of the full check set was delivered');
}

function formatReport(
  modes: readonly Mode[],
  setup: { antivirus: boolean; bytes: number; authResults: string },
): string {
  const base = modes[0];
  const row = (mode: Mode) => {
    const data = mode.timings.map((timing) => timing.dataMs).sort((a, b) => a - b);
    const total = mode.timings.map((timing) => timing.totalMs).sort((a, b) => a - b);
    const baseData = base?.timings.map((timing) => timing.dataMs).sort((a, b) => a - b) ?? [];
    const extra = percentile(data, 99) - percentile(baseData, 99);
    const f = (ms: number) => ms.toFixed(2);
    return `| ${mode.name} | ${f(percentile(data, 50))} | ${f(percentile(data, 90))} | ${f(percentile(data, 99))} | ${mode === base ? '-' : f(extra)} | ${f(percentile(total, 50))} | ${f(percentile(total, 99))} | ${(mode.queries / mode.timings.length).toFixed(2)} |`;
  };
  return [
    `Messages per mode: ${base?.timings.length ?? 0} (after ${WARMUP} warm-up each), ${setup.bytes} bytes on the wire, one connection each, sequential, modes interleaved.`,
    `Full check set: fcrdns, dnsbl, rttl, reverse-mx, mtamark, spf, rmx, gen-cookie (XGEN sent), greylist (exempt by rttl pass), dkim, dmarc, arc, server-signature${setup.antivirus ? ', antivirus (clamd on loopback)' : ' (no antivirus)'}.`,
    `A delivered message of the full set: ${setup.authResults}`,
    '',
    '| mode | end of DATA -> reply p50 ms | p90 ms | p99 ms | extra p99 vs no checks ms | transaction p50 ms | transaction p99 ms | DNS queries / message |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...modes.map(row),
    '',
  ].join('\n');
}

await main();

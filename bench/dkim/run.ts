// DKIM signing and verification rates on a 4 KB message, next to two OpenSSL baselines measured in
// the same run: the raw key operation of `openssl speed`, and that key operation plus OpenSSL's
// SHA-256 of exactly the bytes a DKIM signer or verifier hashes for this message (canonical body and
// header data), the cryptographic work any DKIM implementation must do on top of canonicalization.
// Usage: npx tsx bench/dkim/run.ts [--seconds N] [--rounds N] [--out FILE]
// The machine is shared, so load from other processes comes and goes: every operation is measured
// once per round, rounds interleave all operations, and each figure is the best round. openssl
// speed runs before, between and after, and its best is kept too.
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { verifyMessageOnce } from '../../src/checks/dkim/verify.js';
import { type DkimSigningKey, dkimRecordName, dkimTxtRecord, generateDkimKey } from '../../src/dkim/keys.js';
import { signMessage } from '../../src/dkim/sign.js';
import { verifyDkimSignatures } from '../../src/dkim/verify.js';
import type { Resolver } from '../../src/dns/types.js';
import { checkHashedInput, type HashedInput, hashedInput } from './hashed-input.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const MAX_ITERATIONS = 200_000;
const DOMAIN = 'example.org';

type Algorithm = 'rsa' | 'ed';
type Kind = 'sign' | 'verify';
type Operation = () => Promise<unknown> | unknown;

interface Measurement {
  label: string;
  kind: Kind;
  parallel: number;
  ops: Record<Algorithm, Operation>;
  best: Record<Algorithm, number>;
}

type OpenSslRates = Record<`${Algorithm}-${Kind}`, number>;

/** OpenSSL's figures: key operations per second, and SHA-256 bytes per second by input length. */
interface OpenSslFigures {
  speed: OpenSslRates;
  sha256: Map<number, number>;
}

/** A 4 KB text message; the body has a double space and a tab per line, so canonicalization has work. */
function message4k(): Buffer {
  const header = [
    'From: Alice Example <alice@example.org>',
    'To: Bob <bob@example.net>',
    'Subject: Quarterly figures',
    'Date: Mon, 23 Nov 2026 19:29:20 +0000',
    'Message-ID: <20261123192920.1234@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
  ].join('\r\n');
  const line = 'The quick brown fox jumps over the lazy dog, and  then\tsome more words.\r\n';
  const head = `${header}\r\n\r\n`;
  return Buffer.from(head + line.repeat(Math.ceil((4096 - head.length) / line.length)));
}

/** Runs `op` with `parallel` in flight until the time budget or the cap; returns operations per second. */
async function roundRate(op: Operation, parallel: number): Promise<number> {
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && done < MAX_ITERATIONS) {
      await op();
      done++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return done / ((performance.now() - start) / 1000);
}

function opensslSpeed(): OpenSslRates {
  const run = spawnSync('openssl', ['speed', '-seconds', '3', 'rsa2048', 'ed25519'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl speed failed: ${run.stderr}`);
  const rsa = /rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)/.exec(run.stdout);
  const ed = /EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)/.exec(run.stdout);
  if (!rsa || !ed) throw new Error(`cannot read openssl speed output:\n${run.stdout}`);
  return {
    'rsa-sign': Number(rsa[1]),
    'rsa-verify': Number(rsa[2]),
    'ed-sign': Number(ed[1]),
    'ed-verify': Number(ed[2]),
  };
}

/**
 * SHA-256 bytes per second on one-shot inputs of `bytes` (EVP_Digest per input, so the per-input
 * init and final padding are paid as a DKIM hash pays them).
 */
function opensslSha256(bytes: number): number {
  const run = spawnSync(
    'openssl',
    ['speed', '-mr', '-seconds', '1', '-evp', 'sha256', '-bytes', String(bytes)],
    {
      encoding: 'utf8',
    },
  );
  const rate = /^\+F:\d+:sha256:([\d.]+)$/m.exec(run.stdout);
  if (run.status !== 0 || !rate)
    throw new Error(`openssl speed -evp sha256 failed:\n${run.stdout}${run.stderr}`);
  return Number(rate[1]);
}

function measureOpenSsl(hashLengths: readonly number[]): OpenSslFigures {
  return {
    speed: opensslSpeed(),
    sha256: new Map(hashLengths.map((bytes) => [bytes, opensslSha256(bytes)])),
  };
}

function bestOf(a: OpenSslFigures, b: OpenSslFigures): OpenSslFigures {
  const speed = { ...a.speed };
  for (const key of Object.keys(speed) as (keyof OpenSslRates)[])
    speed[key] = Math.max(a.speed[key], b.speed[key]);
  const sha256 = new Map(a.sha256);
  for (const [bytes, rate] of b.sha256) sha256.set(bytes, Math.max(rate, sha256.get(bytes) ?? 0));
  return { speed, sha256 };
}

/**
 * Operations per second if OpenSSL did the cryptography of one DKIM signature or verification:
 * SHA-256 of the canonical body + SHA-256 of the header data + the key operation. For Ed25519
 * (RFC 8463) the key operation is PureEdDSA over the 32-byte SHA-256 of the header data; its
 * internal SHA-512 runs over one block whether the message is openssl speed's 20 bytes or those
 * 32, so the speed figure covers it. For RSA, `openssl speed` pads and exponentiates a ready
 * digest, so the header data hash is the only extra. Canonicalization is not charged: OpenSSL
 * has no equivalent.
 */
function dkimEquivalent(openssl: OpenSslFigures, hashed: Record<Algorithm, HashedInput>): OpenSslRates {
  const hashSeconds = (bytes: number): number => bytes / (openssl.sha256.get(bytes) ?? Number.NaN);
  const rate = (algorithm: Algorithm, kind: Kind): number => {
    const { body, headerData } = hashed[algorithm];
    const seconds =
      1 / openssl.speed[`${algorithm}-${kind}`] + hashSeconds(body.length) + hashSeconds(headerData.length);
    return 1 / seconds;
  };
  return {
    'rsa-sign': rate('rsa', 'sign'),
    'rsa-verify': rate('rsa', 'verify'),
    'ed-sign': rate('ed', 'sign'),
    'ed-verify': rate('ed', 'verify'),
  };
}

/** The bare private/public-key operations on a DKIM-sized input, inline and on the thread pool. */
function primitive(key: DkimSigningKey) {
  const data = Buffer.alloc(400, 'h');
  const rsa = key.algorithm === 'rsa-sha256';
  const input = rsa ? data : createHash('sha256').update(data).digest();
  const algorithm = rsa ? 'sha256' : null;
  const publicKey = createPublicKey(key.privateKey);
  const signature = sign(algorithm, input, key.privateKey);
  return {
    sign: () => sign(algorithm, input, key.privateKey),
    verify: () => verify(algorithm, input, publicKey, signature),
    signPooled: () =>
      new Promise((resolve, reject) =>
        sign(algorithm, input, key.privateKey, (error, result) => (error ? reject(error) : resolve(result))),
      ),
    verifyPooled: () =>
      new Promise((resolve, reject) =>
        verify(algorithm, input, publicKey, signature, (error, result) =>
          error ? reject(error) : resolve(result),
        ),
      ),
  };
}

async function measurements(keys: Record<Algorithm, DkimSigningKey>): Promise<Measurement[]> {
  const message = message4k();
  const forBoth = (make: (key: DkimSigningKey) => Operation): Record<Algorithm, Operation> => ({
    rsa: make(keys.rsa),
    ed: make(keys.ed),
  });
  const signed = {
    rsa: await signMessage(message, [keys.rsa], { domain: DOMAIN }),
    ed: await signMessage(message, [keys.ed], { domain: DOMAIN }),
  };
  const records = new Map(
    [keys.rsa, keys.ed].map((key) => [dkimRecordName(key.selector, DOMAIN), dkimTxtRecord(key)]),
  );
  const resolver = async (name: string): Promise<string[][]> => [[records.get(name) ?? '']];
  const mailauthSign = (key: DkimSigningKey): Operation => {
    const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // The typings want the fields at the top too; the signer reads signatureData.
    const signature = { signingDomain: DOMAIN, selector: key.selector, privateKey: pem };
    return () => dkimSign(message, { ...signature, signatureData: [signature] });
  };
  const mailauthVerify = (key: DkimSigningKey): Operation => {
    const input = key === keys.rsa ? signed.rsa : signed.ed;
    return async () => {
      const result = await dkimVerify(input, { resolver });
      if (result.results[0]?.status.result !== 'pass') throw new Error('verification failed');
    };
  };
  // Only TXT lookups are made; the rest of the Resolver interface is never called.
  const outpostResolver = { resolve: async (name: string) => resolver(name) } as unknown as Resolver;
  const verifyOptions = { minKeyBits: 1024, now: Date.now() };
  const outpostVerify = (key: DkimSigningKey): Operation => {
    const input = key === keys.rsa ? signed.rsa : signed.ed;
    return async () => {
      const result = await verifyDkimSignatures(input, outpostResolver, verifyOptions);
      if (typeof result === 'symbol' || result.signatures[0]?.result !== 'pass')
        throw new Error('verification failed');
    };
  };
  const checkVerify = (key: DkimSigningKey): Operation => {
    const input = key === keys.rsa ? signed.rsa : signed.ed;
    // A fresh buffer each time: verifyMessageOnce remembers the verification of a buffer.
    return async () => {
      const result = await verifyMessageOnce(Buffer.from(input), outpostResolver, verifyOptions);
      if (result.results[0]?.status.result !== 'pass') throw new Error('verification failed');
    };
  };
  const entries: [string, Kind, number, Record<Algorithm, Operation>][] = [
    ['node crypto.sign, raw primitive', 'sign', 1, forBoth((key) => primitive(key).sign)],
    ['node crypto.verify, raw primitive', 'verify', 1, forBoth((key) => primitive(key).verify)],
    [
      'node crypto.sign on the thread pool, 4 in flight',
      'sign',
      4,
      forBoth((key) => primitive(key).signPooled),
    ],
    [
      'node crypto.verify on the thread pool, 4 in flight',
      'verify',
      4,
      forBoth((key) => primitive(key).verifyPooled),
    ],
    [
      'outpost signMessage, one at a time',
      'sign',
      1,
      forBoth((key) => () => signMessage(message, [key], { domain: DOMAIN })),
    ],
    [
      'outpost signMessage, 4 in flight',
      'sign',
      4,
      forBoth((key) => () => signMessage(message, [key], { domain: DOMAIN })),
    ],
    ['mailauth dkimSign (PEM key), one at a time', 'sign', 1, forBoth(mailauthSign)],
    ['mailauth dkimVerify of our signature, one at a time', 'verify', 1, forBoth(mailauthVerify)],
    ['outpost verifyDkimSignatures, one at a time', 'verify', 1, forBoth(outpostVerify)],
    ['outpost dkim check verification (verifyMessageOnce), one at a time', 'verify', 1, forBoth(checkVerify)],
  ];
  return entries.map(([label, kind, parallel, ops]) => ({
    label,
    kind,
    parallel,
    ops,
    best: { rsa: 0, ed: 0 },
  }));
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (n: number, base: number): string => `${(n / base).toFixed(2)}x`;
const loadAverage = (): string =>
  os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');

/** The bytes DKIM hashes for `message` signed with `key`, checked against the signature itself. */
async function hashedFor(message: Buffer, key: DkimSigningKey): Promise<HashedInput> {
  const signed = await signMessage(message, [key], { domain: DOMAIN });
  const input = hashedInput(signed);
  checkHashedInput(signed, input, key.privateKey);
  return input;
}

function report(
  rows: Measurement[],
  openssl: OpenSslFigures,
  hashed: Record<Algorithm, HashedInput>,
  load: string,
): string[] {
  const dkim = dkimEquivalent(openssl, hashed);
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim();
  const sha256 = [...openssl.sha256]
    .map(
      ([bytes, rate]) =>
        `${bytes} B ${(rate / 1e6).toFixed(0)} MB/s (${((bytes / rate) * 1e6).toFixed(2)} us)`,
    )
    .join(', ');
  const lines = [
    `machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores; node ${process.version}`,
    `openssl: ${version} (node links OpenSSL ${process.versions.openssl})`,
    `command: npx tsx bench/dkim/run.ts ${process.argv.slice(2).join(' ')}`.trimEnd(),
    `load average (1, 5, 15 min): ${load} at start, ${loadAverage()} at end`,
    `message: ${message4k().length} bytes; best of ${ROUNDS} interleaved rounds of ${SECONDS} s per figure`,
    `hashed per signature: canonical body ${hashed.rsa.body.length} B; header data ${hashed.rsa.headerData.length} B (RSA), ${hashed.ed.headerData.length} B (Ed25519)`,
    `openssl speed -evp sha256 (best): ${sha256}`,
    '',
    '| operation | RSA-2048-SHA256 /s | vs speed | vs DKIM-equivalent | Ed25519-SHA256 /s | vs speed | vs DKIM-equivalent |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const row = (label: string, kind: Kind, rsa: number, ed: number): string =>
    `| ${label} | ${fmt(rsa)} | ${ratio(rsa, openssl.speed[`rsa-${kind}`])} | ${ratio(rsa, dkim[`rsa-${kind}`])} | ${fmt(ed)} | ${ratio(ed, openssl.speed[`ed-${kind}`])} | ${ratio(ed, dkim[`ed-${kind}`])} |`;
  for (const kind of ['sign', 'verify'] as const) {
    lines.push(row(`openssl speed ${kind}`, kind, openssl.speed[`rsa-${kind}`], openssl.speed[`ed-${kind}`]));
  }
  for (const kind of ['sign', 'verify'] as const) {
    lines.push(
      row(
        `openssl DKIM-equivalent ${kind} (speed + SHA-256 of body and header data)`,
        kind,
        dkim[`rsa-${kind}`],
        dkim[`ed-${kind}`],
      ),
    );
  }
  for (const { label, kind, best } of rows) lines.push(row(label, kind, best.rsa, best.ed));
  return lines;
}

async function main(): Promise<void> {
  const load = loadAverage();
  const [rsaKey, edKey] = await Promise.all([
    generateDkimKey('rsa-sha256'),
    generateDkimKey('ed25519-sha256'),
  ]);
  const keys = { rsa: { selector: 'rsa', ...rsaKey }, ed: { selector: 'ed', ...edKey } };
  const message = message4k();
  const hashed = { rsa: await hashedFor(message, keys.rsa), ed: await hashedFor(message, keys.ed) };
  const hashLengths = [
    ...new Set([hashed.rsa.body.length, hashed.rsa.headerData.length, hashed.ed.headerData.length]),
  ];
  const rows = await measurements(keys);
  for (const row of rows)
    for (const algorithm of ['rsa', 'ed'] as const) for (let i = 0; i < 20; i++) await row.ops[algorithm]();

  process.stdout.write('openssl speed rsa2048 ed25519 and -evp sha256 (about 15 s)...\n');
  let openssl = measureOpenSsl(hashLengths);
  for (let round = 1; round <= ROUNDS; round++) {
    process.stdout.write(`round ${round} of ${ROUNDS}...\n`);
    for (const row of rows) {
      for (const algorithm of ['rsa', 'ed'] as const) {
        row.best[algorithm] = Math.max(
          row.best[algorithm],
          await roundRate(row.ops[algorithm], row.parallel),
        );
      }
    }
    if (round === Math.ceil(ROUNDS / 2)) openssl = bestOf(openssl, measureOpenSsl(hashLengths));
  }
  openssl = bestOf(openssl, measureOpenSsl(hashLengths));

  const lines = report(rows, openssl, hashed, load);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.out) writeFileSync(values.out, `${lines.join('\n')}\n`);
}

await main();

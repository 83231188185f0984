import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { CheckContext, CheckRegistration, CheckResult } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { createMessageDns } from '../../../src/pipeline/dns-view.js';
import { runStage, type StageOutcome } from '../../../src/pipeline/run-stage.js';
import type { TestDns } from '../../helpers/dns.js';

/** A signing key and the DKIM key record (RFC 6376 3.6.1, RFC 8463 for Ed25519) that publishes it. */
export interface SigningKey {
  privateKeyPem: string;
  /** The private key as dkimpy takes it: PKCS#1 PEM for RSA, the base64 32-byte seed for Ed25519. */
  dkimpyKey: string;
  /** The TXT text for `<selector>._domainkey.<domain>`. */
  record: string;
}

function spkiBase64(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** A fresh RSA key (2048 bits unless asked otherwise) and its record. */
export function rsaKey(bits = 2048): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    dkimpyKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${spkiBase64(publicKey)}`,
  };
}

/** A fresh Ed25519 key; its record carries the bare 32-byte public key (RFC 8463 section 4). */
export function ed25519Key(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const seed = privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32);
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    dkimpyKey: seed.toString('base64'),
    record: `v=DKIM1; k=ed25519; p=${raw.toString('base64')}`,
  };
}

/** A zone-file TXT line for a key record (quoted; the server splits it into 255-byte strings). */
export function keyRecordLine(owner: string, key: SigningKey): string {
  return `${owner} TXT "${key.record}"`;
}

/** A plain message in CRLF form. */
export function plainMessage(
  from: string,
  body = 'Hello,\r\n\r\nthis is a test.\r\n',
  extraHeaders = '',
): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: bob@receiver.test\r\nSubject: test message\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@test>\r\n${extraHeaders}\r\n${body}`,
  );
}

/** Signs `message` with mailauth's signer and returns it with the DKIM-Signature prepended. */
export async function signed(
  message: Buffer,
  signer: { domain: string; selector: string; key: SigningKey; bodyLength?: number },
): Promise<Buffer> {
  const signature = {
    signingDomain: signer.domain,
    selector: signer.selector,
    privateKey: signer.key.privateKeyPem,
    ...(signer.bodyLength === undefined ? {} : { maxBodyLength: signer.bodyLength }),
  };
  const { signatures, errors } = await dkimSign(message, {
    ...signature,
    canonicalization: 'relaxed/relaxed',
    signatureData: [signature],
  });
  if (errors.length > 0 || signatures === '') throw new Error(`signing failed: ${String(errors[0]?.err)}`);
  return Buffer.concat([Buffer.from(signatures), message]);
}

/** What the SMTP side says about a message under test. */
export interface MessageScenario {
  message: Buffer;
  clientIp?: string;
  helo?: string;
  mailFrom?: string;
}

function sessionOf(ip: string, helo: string): CheckContext['session'] {
  return {
    id: 'test-session',
    remoteAddress: ip,
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 25,
    secure: false,
    esmtp: true,
    state: {},
    helo,
  };
}

/**
 * Runs configured checks as a listener does for one message: the mail stage (spf), then the data
 * stage with the mail stage's results in `earlier`, all on one per-message DNS view.
 */
export async function runMessageChecks(
  dns: Pick<TestDns, 'resolver'>,
  blocks: Record<string, unknown>[],
  scenario: MessageScenario,
  options: { now?: () => number; registry?: ReadonlyMap<string, CheckRegistration> } = {},
): Promise<{ data: StageOutcome; results: Map<string, CheckResult> }> {
  const checks = compileChecks(blocks, options.registry);
  const ip = scenario.clientIp ?? '192.0.2.10';
  const helo = scenario.helo ?? 'mail.sender.test';
  const base = {
    client: { ip, port: 40000 },
    session: sessionOf(ip, helo),
    helo,
    mailFrom: scenario.mailFrom ?? '',
    dns: createMessageDns(dns.resolver),
    now: options.now ?? Date.now,
  };
  const mail = await runStage('mail', checks, { ...base, earlier: new Map() });
  const data = await runStage('data', checks, { ...base, message: scenario.message, earlier: mail.results });
  return { data, results: new Map([...mail.results, ...data.results]) };
}

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { startTestDns } from '../helpers/dns.js';
import { dkimpyAvailable, dkimpySign } from '../unit/checks/dkim-dkimpy.js';
import {
  ed25519Key,
  keyRecordLine,
  plainMessage,
  rsaKey,
  runMessageChecks,
} from '../unit/checks/dkim-fixtures.js';

// Signatures made by other DKIM implementations must verify through outpost's dkim check, with the
// public keys served by outpost's DNS server: dkimpy (Debian python3-dkim) for RSA-SHA256 and
// Ed25519-SHA256, and OpenDKIM's tools (opendkim-genkey's key and zone snippet; opendkim-testmsg).

const rsa = rsaKey();
const ed = ed25519Key();
const message = plainMessage('Alice <alice@sender.test>');
const noDkimpy = !dkimpyAvailable() && 'dkimpy (/usr/bin/python3 with python3-dkim) not installed';

function installed(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

async function verifyHere(t: TestContext, zones: string, signed: Buffer) {
  const dns = await startTestDns(t, zones);
  const { results } = await runMessageChecks(dns, [{ use: 'dkim' }], { message: signed });
  const result = results.get('dkim');
  assert.ok(result, 'the dkim check ran');
  return result;
}

const KEYS = `
  $ORIGIN sender.test.
  ${keyRecordLine('py-rsa._domainkey', rsa)}
  ${keyRecordLine('py-ed._domainkey', ed)}
`;

test('a dkimpy RSA-SHA256 signature verifies', { skip: noDkimpy }, async (t) => {
  const signed = await dkimpySign(message, {
    domain: 'sender.test',
    selector: 'py-rsa',
    key: rsa.dkimpyKey,
    algorithm: 'rsa-sha256',
  });
  const result = await verifyHere(t, KEYS, signed);
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.a'], 'rsa-sha256');
  assert.equal(result.props?.['header.s'], 'py-rsa');
});

test('a dkimpy Ed25519-SHA256 signature (RFC 8463) verifies', { skip: noDkimpy }, async (t) => {
  const signed = await dkimpySign(message, {
    domain: 'sender.test',
    selector: 'py-ed',
    key: ed.dkimpyKey,
    algorithm: 'ed25519-sha256',
  });
  const result = await verifyHere(t, KEYS, signed);
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.a'], 'ed25519-sha256');
});

test('a dkimpy signature over a body changed afterwards fails', { skip: noDkimpy }, async (t) => {
  const signed = await dkimpySign(message, {
    domain: 'sender.test',
    selector: 'py-rsa',
    key: rsa.dkimpyKey,
    algorithm: 'rsa-sha256',
  });
  const changed = Buffer.from(signed.toString().replace('this is a test.', 'this is a trap.'));
  assert.equal((await verifyHere(t, KEYS, changed)).result, 'fail');
});

/** An opendkim-genkey key pair in a temp dir: the private key and the zone snippet it writes. */
function opendkimKey(t: TestContext): { privateKeyFile: string; privateKeyPem: string; zoneSnippet: string } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-opendkim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // 1024 bits (the RFC 8301 minimum) keeps key generation quick; the record format is the same.
  execFileSync('opendkim-genkey', ['-b', '1024', '-d', 'sender.test', '-s', 'od', '-D', dir]);
  const privateKeyFile = join(dir, 'od.private');
  return {
    privateKeyFile,
    privateKeyPem: readFileSync(privateKeyFile, 'utf8'),
    zoneSnippet: readFileSync(join(dir, 'od.txt'), 'utf8'),
  };
}

test('an opendkim-genkey key, published with its own zone snippet, verifies a dkimpy signature', {
  skip: noDkimpy || (!installed('opendkim-genkey') && 'opendkim-tools not installed'),
}, async (t) => {
  const key = opendkimKey(t);
  // opendkim-genkey writes PKCS#8; dkimpy reads PKCS#1.
  const pkcs1 = createPrivateKey(key.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
  const signed = await dkimpySign(message, {
    domain: 'sender.test',
    selector: 'od',
    key: pkcs1,
    algorithm: 'rsa-sha256',
  });
  const result = await verifyHere(t, `$ORIGIN sender.test.\n${key.zoneSnippet}`, signed);
  assert.equal(result.result, 'pass');
  assert.equal(result.props?.['header.s'], 'od');
});

test('opendkim-testmsg signs with rsa-sha1 only, which RFC 8301 no longer accepts: neutral', {
  skip: !installed('opendkim-testmsg') && 'opendkim-tools not installed',
}, async (t) => {
  const key = opendkimKey(t);
  const output = execFileSync(
    'opendkim-testmsg',
    ['-d', 'sender.test', '-k', key.privateKeyFile, '-s', 'od'],
    {
      input: message,
    },
  );
  const signed = Buffer.from(output.toString().replace(/\r?\n/g, '\r\n'));
  assert.match(signed.toString(), /^DKIM-Signature: v=1; a=rsa-sha1;/);
  const result = await verifyHere(t, `$ORIGIN sender.test.\n${key.zoneSnippet}`, signed);
  assert.equal(result.result, 'neutral');
  assert.equal(result.reason, 'rsa-sha1 is not accepted (RFC 8301)');
});

// OpenDKIM's tools (Debian opendkim-tools) against outpost's dkim check, through a real SMTP
// session into a Maildir. What the package offers: opendkim-genkey (key pair + zone snippet),
// opendkim-testmsg (signs with rsa-sha1 only, see below), opendkim-testkey (asks the system
// resolver, which cannot be pointed at our DNS server without root). So:
// - a key made by opendkim-genkey, published with its own zone snippet, verifies signatures that
//   dkimpy and outpost's signer make with it (rsa-sha256);
// - opendkim-testmsg's rsa-sha1 signature arrives as dkim=neutral (RFC 8301), not fail, and the
//   message is delivered.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { publicKeyDnsValue } from '../../src/dkim/keys.js';
import { signMessage } from '../../src/dkim/sign.js';
import { fakeInternet, readMessage } from '../helpers/fake-internet.js';
import { smtpConnect } from '../helpers/smtp-client.js';
import { dkimpyAvailable, dkimpySign } from '../unit/checks/dkim-dkimpy.js';

const RECEIVER = 'receiver.test';
const RECEIVER_IP = '127.0.0.40';
const CLIENT_IP = '127.0.0.41';

function installed(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

const noOpendkim = !installed('opendkim-genkey') && 'opendkim-tools (Debian) not installed';
const noDkimpy = !dkimpyAvailable() && 'dkimpy (/usr/bin/python3 with python3-dkim) not installed';

/** An opendkim-genkey key for od._domainkey.sender.test: the private key file and the zone snippet. */
function opendkimKey(t: TestContext): { file: string; pem: string; zoneSnippet: string } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-opendkim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // 1024 bits (the RFC 8301 minimum) keeps key generation quick; the record format is the same.
  execFileSync('opendkim-genkey', ['-b', '1024', '-d', 'sender.test', '-s', 'od', '-D', dir]);
  const file = join(dir, 'od.private');
  return { file, pem: readFileSync(file, 'utf8'), zoneSnippet: readFileSync(join(dir, 'od.txt'), 'utf8') };
}

function plainMessage(marker: string): Buffer {
  return Buffer.from(
    `From: Alice <alice@sender.test>\r\nTo: bob@${RECEIVER}\r\nSubject: ${marker}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <${marker}@sender.test>\r\n\r\nHello,\r\n\r\nthis is a test.\r\n`,
  );
}

/**
 * Sends `message` over SMTP to an outpost whose MX runs the dkim check, with the key's zone snippet
 * published as opendkim-genkey wrote it; returns our unfolded Authentication-Results of the
 * delivered message.
 */
async function deliver(t: TestContext, zoneSnippet: string, message: Buffer): Promise<string> {
  const net = await fakeInternet(t, {
    offices: [
      {
        domain: RECEIVER,
        ip: RECEIVER_IP,
        users: ['bob'],
        checks: [{ use: 'dkim', on: { fail: 'reject', temperror: 'defer' } }],
      },
    ],
    zone: `$ORIGIN sender.test.\n${zoneSnippet}\n`,
  });
  const office = net.office(RECEIVER);
  const client = await smtpConnect(office.port, RECEIVER_IP, { localAddress: CLIENT_IP });
  t.after(() => client.close());
  const reply = await client.sendMail({
    from: 'alice@sender.test',
    to: [`bob@${RECEIVER}`],
    body: message.toString('latin1'),
  });
  assert.equal(reply.code, 250, reply.text);
  for (let attempt = 0; attempt < 100; attempt++) {
    const [file] = await office.mailbox('bob');
    if (file !== undefined) {
      const text = (await readMessage(file)).replace(/\r\n[ \t]+/g, ' ');
      const field = new RegExp(`^Authentication-Results: mx\\.${RECEIVER.replace('.', '\\.')};.*$`, 'm').exec(
        text,
      );
      assert.ok(field, 'the delivered message has our Authentication-Results');
      return field[0];
    }
    await sleep(50);
  }
  throw new Error('the message was not delivered');
}

test('an opendkim-genkey key signs with dkimpy (rsa-sha256): dkim=pass after SMTP', {
  skip: noOpendkim || noDkimpy,
}, async (t) => {
  const key = opendkimKey(t);
  // opendkim-genkey writes PKCS#8 ("BEGIN PRIVATE KEY"); dkimpy reads PKCS#1.
  const pkcs1 = createPrivateKey(key.pem).export({ type: 'pkcs1', format: 'pem' }).toString();
  const signed = await dkimpySign(plainMessage('dkimpy-od'), {
    domain: 'sender.test',
    selector: 'od',
    key: pkcs1,
    algorithm: 'rsa-sha256',
  });
  const results = await deliver(t, key.zoneSnippet, signed);
  assert.match(results, /; dkim=pass header\.d=sender\.test header\.s=od header\.a=rsa-sha256/);
});

test('an opendkim-genkey key loaded by outpost signs (src/dkim/sign.ts): dkim=pass after SMTP', {
  skip: noOpendkim,
}, async (t) => {
  const key = opendkimKey(t);
  const privateKey = createPrivateKey(key.pem);
  // The zone snippet's p= is the key outpost would publish for the same private key.
  assert.ok(key.zoneSnippet.replace(/"\s+"/g, '').includes(`p=${publicKeyDnsValue(privateKey)}`));
  const signed = await signMessage(
    plainMessage('outpost-od'),
    [
      {
        selector: 'od',
        algorithm: 'rsa-sha256',
        privateKey,
        publicKeyDnsValue: publicKeyDnsValue(privateKey),
      },
    ],
    { domain: 'sender.test' },
  );
  const results = await deliver(t, key.zoneSnippet, signed);
  assert.match(results, /; dkim=pass header\.d=sender\.test header\.s=od header\.a=rsa-sha256/);
});

test('opendkim-testmsg signs with rsa-sha1 only: delivered with dkim=neutral (RFC 8301), not fail', {
  skip: !installed('opendkim-testmsg') && 'opendkim-tools (Debian) not installed',
}, async (t) => {
  const key = opendkimKey(t);
  const output = execFileSync('opendkim-testmsg', ['-d', 'sender.test', '-k', key.file, '-s', 'od'], {
    input: plainMessage('testmsg-od'),
  });
  const signed = Buffer.from(output.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  assert.match(signed.toString('latin1'), /^DKIM-Signature: v=1; a=rsa-sha1;/);
  const results = await deliver(t, key.zoneSnippet, signed);
  assert.match(
    results,
    /; dkim=neutral reason="rsa-sha1 is not accepted \(RFC 8301\)" header\.d=sender\.test/,
  );
});

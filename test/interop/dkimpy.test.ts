// Our DKIM signatures checked by an independent implementation: dkimpy (Debian python3-dkim).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { type DkimSigningKey, dkimRecordName, dkimTxtRecord } from '../../src/dkim/keys.js';
import { signMessage } from '../../src/dkim/sign.js';
import { DOMAIN, sampleMessage, testKeys } from '../unit/dkim/fixtures/keys.js';

const PYTHON = '/usr/bin/python3';

// Reads the message on stdin and {record name: TXT} as argv[1]; prints one verdict per signature.
const VERIFY_SCRIPT = `
import json, sys, dkim
records = json.loads(sys.argv[1])
message = sys.stdin.buffer.read()
def dnsfunc(name, timeout=5):
    key = (name.decode() if isinstance(name, bytes) else name).rstrip('.').lower()
    text = records.get(key)
    return text.encode() if text is not None else None
checker = dkim.DKIM(message)
count = sum(1 for line in message.split(b'\\r\\n\\r\\n', 1)[0].split(b'\\r\\n') if line.lower().startswith(b'dkim-signature:'))
print(json.dumps([bool(checker.verify(idx=i, dnsfunc=dnsfunc)) for i in range(count)]))
`;

function dkimpyMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import dkim, nacl'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not runnable (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import dkim and nacl (install python3-dkim python3-nacl)`;
  return undefined;
}

const skip = dkimpyMissing();

function dkimpyVerdicts(message: Buffer, keys: readonly DkimSigningKey[]): boolean[] {
  const records = Object.fromEntries(
    keys.map((key) => [dkimRecordName(key.selector, DOMAIN), dkimTxtRecord(key)]),
  );
  const run = spawnSync(PYTHON, ['-c', VERIFY_SCRIPT, JSON.stringify(records)], {
    input: message,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as boolean[];
}

const awkwardMessages: Record<string, string> = {
  'trailing whitespace and empty lines':
    'From: a@example.org\r\nSubject: x \t\r\n\r\nline \t \r\n\r\n  indented\r\n\r\n\r\n \r\n',
  'no final line break': 'From: a@example.org\r\nTo: b@example.net\r\n\r\nno newline at the end',
  'empty body': 'From: a@example.org\r\nSubject: empty\r\n\r\n',
  'no body at all': 'From: a@example.org\r\nSubject: headers only\r\n',
  // dkimpy reads "From :" (obsolete space before the colon) as no field at all, so not here.
  'folded and spaced headers':
    'From: A\r\n  <a@example.org>\r\nSubject:\tmany\t\t tabs  \r\n\tand folds\r\nTo:b@example.net\r\n\r\nx\r\n',
  'repeated headers':
    'From: a@example.org\r\nTo: one@example.net\r\nTo: two@example.net\r\nCc: c@example.net\r\n\r\nx\r\n',
  '8-bit header and body':
    'From: J\u00fcrgen <j@example.org>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nStra\u00dfe  \u00fcber\r\n',
};

test('dkimpy verifies our RSA and Ed25519 signatures on a 4 KB message', { skip }, async () => {
  const { rsa, ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [rsa, ed25519], { domain: DOMAIN });
  assert.deepEqual(dkimpyVerdicts(signed, [rsa, ed25519]), [true, true]);
});

for (const [name, text] of Object.entries(awkwardMessages)) {
  test(`dkimpy agrees on canonicalization: ${name}`, { skip }, async () => {
    const { rsa, ed25519 } = await testKeys;
    const signed = await signMessage(Buffer.from(text, 'utf8'), [rsa, ed25519], { domain: DOMAIN });
    assert.deepEqual(dkimpyVerdicts(signed, [rsa, ed25519]), [true, true]);
  });
}

test('dkimpy rejects our signatures once the message is changed', { skip }, async () => {
  const { rsa, ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [rsa, ed25519], { domain: DOMAIN });
  const tampered = Buffer.from(signed.toString('latin1').replace('Quarterly', 'Yearly'), 'latin1');
  assert.deepEqual(dkimpyVerdicts(tampered, [rsa, ed25519]), [false, false]);
});

test('dkimpy rejects a signature whose published key is another one', { skip }, async () => {
  const { rsa, ed25519 } = await testKeys;
  const signed = await signMessage(sampleMessage(), [ed25519], { domain: DOMAIN });
  // The Ed25519 selector's record now holds the RSA key: the signature must not verify.
  assert.deepEqual(dkimpyVerdicts(signed, [{ ...rsa, selector: ed25519.selector }]), [false]);
});

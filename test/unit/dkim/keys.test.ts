import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  dkimKeyFile,
  dkimTxtRecord,
  generateDkimKey,
  listDkimKeys,
  loadDkimKeys,
  normalizeDkimDomain,
  normalizeSelector,
  saveDkimKey,
  selectorsFor,
} from '../../../src/dkim/keys.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-dkim-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('an RSA key is 2048 bits and its record carries the SubjectPublicKeyInfo', async () => {
  const key = await generateDkimKey('rsa-sha256');
  assert.equal(key.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  const record = dkimTxtRecord(key);
  assert.match(record, /^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/]+=*$/);
  const published = createPublicKey({
    key: Buffer.from(key.publicKeyDnsValue, 'base64'),
    format: 'der',
    type: 'spki',
  });
  assert.ok(published.equals(createPublicKey(key.privateKey)));
});

test('an Ed25519 record carries the raw 32-byte public key, not the SPKI (RFC 8463)', async () => {
  const key = await generateDkimKey('ed25519-sha256');
  const raw = Buffer.from(key.publicKeyDnsValue, 'base64');
  assert.equal(raw.length, 32);
  const jwk = createPublicKey(key.privateKey).export({ format: 'jwk' });
  assert.equal(raw.toString('base64url'), jwk.x);
  assert.equal(dkimTxtRecord(key), `v=DKIM1; k=ed25519; p=${key.publicKeyDnsValue}`);
});

test('keys are saved 0600 under dkim/<domain>/<selector>.key and load back parsed, algorithm from the key', async (t) => {
  const dir = await tempDir(t);
  const rsa = await generateDkimKey('rsa-sha256');
  const ed = await generateDkimKey('ed25519-sha256');
  const rsaFile = await saveDkimKey(dir, 'Example.ORG', 'sel-rsa', rsa);
  await saveDkimKey(dir, 'example.org', 'sel-ed', ed);
  await saveDkimKey(dir, 'other.test', 'a', ed);
  assert.equal(rsaFile, path.join(dir, 'dkim', 'example.org', 'sel-rsa.key'));
  assert.equal((await stat(rsaFile)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(rsaFile))).mode & 0o777, 0o700);

  const byDomain = await loadDkimKeys(dir);
  assert.deepEqual([...byDomain.keys()], ['example.org', 'other.test']);
  const keys = byDomain.get('example.org') ?? [];
  assert.deepEqual(
    keys.map((key) => [key.selector, key.algorithm, key.publicKeyDnsValue]),
    [
      ['sel-ed', 'ed25519-sha256', ed.publicKeyDnsValue],
      ['sel-rsa', 'rsa-sha256', rsa.publicKeyDnsValue],
    ],
  );
  assert.equal(keys[1]?.privateKey.type, 'private');
});

test('a key is never overwritten', async (t) => {
  const dir = await tempDir(t);
  const key = await generateDkimKey('ed25519-sha256');
  await saveDkimKey(dir, 'example.org', 's1', key);
  await assert.rejects(saveDkimKey(dir, 'example.org', 's1', key), /already exists: choose another selector/);
});

test('a key file that does not parse is an error naming the file', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'dkim', 'example.org'), { recursive: true });
  await writeFile(path.join(dir, 'dkim', 'example.org', 'broken.key'), 'not a key');
  await writeFile(path.join(dir, 'dkim', 'example.org', 'notes.txt'), 'ignored');
  await assert.rejects(loadDkimKeys(dir), /broken\.key/);
});

test('no dkim folder means no keys', async (t) => {
  const dir = await tempDir(t);
  assert.deepEqual(await listDkimKeys(dir), []);
  assert.equal((await loadDkimKeys(dir)).size, 0);
});

test('domains and selectors that are not DNS names are refused, so no path leaves the key folder', () => {
  assert.equal(normalizeDkimDomain('Bücher.Example.'), 'xn--bcher-kva.example');
  for (const bad of ['', '..', '../etc', 'a/b', 'a..b', '-a.example', 'a b.example']) {
    assert.throws(() => normalizeDkimDomain(bad), /is not a domain name/, bad);
  }
  assert.equal(normalizeSelector('Outpost-2026'), 'outpost-2026');
  for (const bad of ['', '../x', 'a/b', 'a;b', 'a=b'])
    assert.throws(() => normalizeSelector(bad), /valid selector/, bad);
  assert.throws(() => dkimKeyFile('/data', 'example.org', '../../etc/passwd'), /valid selector/);
});

test('default selectors name the month and the algorithm; a given one is suffixed only for both', () => {
  const july = Date.UTC(2026, 6, 15);
  assert.deepEqual(selectorsFor(['rsa-sha256', 'ed25519-sha256'], undefined, july), [
    'outpost-202607-rsa',
    'outpost-202607-ed25519',
  ]);
  assert.deepEqual(selectorsFor(['ed25519-sha256'], 'mail', july), ['mail']);
  assert.deepEqual(selectorsFor(['rsa-sha256', 'ed25519-sha256'], 'mail', july), [
    'mail-rsa',
    'mail-ed25519',
  ]);
});

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

async function exists(file: string): Promise<boolean> {
  try {
    await readFile(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads the TLS key and certificate; when both are missing, creates a self-signed pair for the
 * host name (so STARTTLS works on first start). Only one missing is an operator error, not ours to fix.
 */
export async function ensureCertificate(
  certPath: string,
  keyPath: string,
  hostname: string,
): Promise<TlsMaterial> {
  const [haveCert, haveKey] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (!haveCert && !haveKey) {
    const pems = await generate([{ name: 'commonName', value: hostname }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 86_400_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] }],
    });
    await writePrivate(keyPath, pems.private);
    await writePrivate(certPath, pems.cert);
  } else if (!haveCert || !haveKey) {
    throw new Error(
      `TLS: ${haveCert ? keyPath : certPath} is missing (the other file exists); add it or remove both`,
    );
  }
  const [key, cert] = await Promise.all([readFile(keyPath), readFile(certPath)]);
  return { key, cert };
}

async function writePrivate(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

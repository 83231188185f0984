// The demo's own certificate authority: every post office gets a certificate for its host names
// signed by it, and every post office trusts it, as real ones trust the public CAs.
import { generate } from 'selfsigned';

export interface Pem {
  key: string;
  cert: string;
}

const VALID_DAYS = 30;

function notAfter(): Date {
  return new Date(Date.now() + VALID_DAYS * 86_400_000);
}

/** A fresh CA that may sign server certificates. */
export async function createDemoCa(): Promise<Pem> {
  const ca = await generate([{ name: 'commonName', value: 'outpost demo CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { key: ca.private, cert: ca.cert };
}

/** A server certificate signed by `ca`, valid for each of `hosts` (the first is the common name). */
export async function serverCertificate(ca: Pem, hosts: readonly string[]): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter(),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2, value })) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA with a server and a client certificate signed by it (PEM). */
export interface TlsMaterial {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Generates fresh certificates with the openssl command in a temp dir that is removed afterwards. */
export function makeTlsMaterial(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-smtp-tls-'));
  try {
    const path = (name: string): string => join(dir, name);
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { stdio: 'ignore' });
    };
    openssl(
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      path('ca.key'),
      '-out',
      path('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=Outpost Test CA',
    );
    for (const name of ['server', 'client']) {
      const subject = name === 'server' ? '/CN=mx.outpost.test' : '/CN=client.example';
      openssl(
        'req',
        ...EC_KEY,
        '-keyout',
        path(`${name}.key`),
        '-out',
        path(`${name}.csr`),
        '-subj',
        subject,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        path(`${name}.csr`),
        '-CA',
        path('ca.crt'),
        '-CAkey',
        path('ca.key'),
        '-CAcreateserial',
        '-days',
        '2',
        '-out',
        path(`${name}.crt`),
      );
    }
    return {
      ca: readFileSync(path('ca.crt')),
      serverKey: readFileSync(path('server.key')),
      serverCert: readFileSync(path('server.crt')),
      clientKey: readFileSync(path('client.key')),
      clientCert: readFileSync(path('client.crt')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

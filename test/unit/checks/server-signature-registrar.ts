// A registrar for tests, made with the openssl command: a CA, a server certificate, a client
// certificate it accredits, one it accredited and then revoked (with the CRL saying so), and one
// from a stranger's CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyAndCert {
  key: Buffer;
  cert: Buffer;
}

export interface Registrar {
  /** The files the listener's client_ca and client_crl keys name (in a temp dir the caller removes). */
  caFile: string;
  crlFile: string;
  dir: string;
  server: KeyAndCert;
  accredited: KeyAndCert;
  revoked: KeyAndCert;
  stranger: KeyAndCert;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** True when the openssl command can be run. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes the registrar's files in a fresh temp dir; call `removeRegistrar` when done. */
export function makeRegistrar(): Registrar {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-registrar-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const selfSigned = (name: string, subject: string) =>
    openssl(
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.crt`),
      '-days',
      '2',
      '-subj',
      subject,
    );
  const issue = (name: string, subject: string, ca: string) => {
    openssl('req', ...EC_KEY, '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', subject);
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path(`${ca}.crt`),
      '-CAkey',
      path(`${ca}.key`),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      path(`${name}.crt`),
    );
  };
  selfSigned('ca', '/CN=Test Registrar');
  selfSigned('other-ca', '/CN=Someone Else');
  selfSigned('server', '/CN=mx1.receiver.test');
  issue('accredited', '/CN=mail.good.test', 'ca');
  issue('revoked', '/CN=mail.revoked.test', 'ca');
  issue('stranger', '/CN=mail.stranger.test', 'other-ca');
  writeFileSync(path('index.txt'), '');
  writeFileSync(path('crlnumber'), '01\n');
  writeFileSync(
    path('ca.cnf'),
    [
      '[ca]',
      'default_ca = registrar',
      '[registrar]',
      `database = ${path('index.txt')}`,
      `crlnumber = ${path('crlnumber')}`,
      'default_md = sha256',
      'default_crl_days = 2',
      '',
    ].join('\n'),
  );
  const ca = ['-config', path('ca.cnf'), '-keyfile', path('ca.key'), '-cert', path('ca.crt')];
  openssl('ca', ...ca, '-revoke', path('revoked.crt'));
  openssl('ca', ...ca, '-gencrl', '-out', path('ca.crl'));
  const pair = (name: string): KeyAndCert => ({
    key: readFileSync(path(`${name}.key`)),
    cert: readFileSync(path(`${name}.crt`)),
  });
  return {
    caFile: path('ca.crt'),
    crlFile: path('ca.crl'),
    dir,
    server: pair('server'),
    accredited: pair('accredited'),
    revoked: pair('revoked'),
    stranger: pair('stranger'),
  };
}

export function removeRegistrar(registrar: Registrar): void {
  rmSync(registrar.dir, { recursive: true, force: true });
}

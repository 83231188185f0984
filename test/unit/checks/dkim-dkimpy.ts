import { spawn, spawnSync } from 'node:child_process';

/**
 * dkimpy (Debian's python3-dkim, run by Debian's own /usr/bin/python3) as an independent DKIM and
 * ARC implementation for interoperability tests: it signs what our checks must verify, and
 * verifies the ARC sets we seal. Keys come from the test (dkimpy never touches the network here).
 */

const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import sys, json, dkim
mode, cfg = sys.argv[1], json.loads(sys.argv[2])
message = sys.stdin.buffer.read()
if mode == 'sign':
    signature = dkim.sign(message, cfg['selector'].encode(), cfg['domain'].encode(), cfg['key'].encode(),
                          canonicalize=(b'relaxed', b'relaxed'), signature_algorithm=cfg['algorithm'].encode())
    sys.stdout.buffer.write(signature + message)
elif mode == 'arc-sign':
    headers = dkim.arc_sign(message, cfg['selector'].encode(), cfg['domain'].encode(), cfg['key'].encode(),
                            cfg['srv_id'].encode())
    if not headers:
        sys.exit('arc_sign made no ARC set')
    sys.stdout.buffer.write(b''.join(headers) + message)
elif mode == 'arc-verify':
    records = cfg['records']
    def dnsfunc(name, timeout=5):
        text = records.get((name.decode() if isinstance(name, bytes) else name).rstrip('.').lower())
        return text.encode() if text is not None else None
    cv, results, comment = dkim.arc_verify(message, dnsfunc=dnsfunc)
    print(json.dumps({'cv': cv.decode(), 'comment': comment}))
`;

let available: boolean | undefined;

/** True when /usr/bin/python3 can import dkimpy (and authres, which its ARC code needs). */
export function dkimpyAvailable(): boolean {
  available ??= spawnSync(PYTHON, ['-c', 'import dkim, authres, nacl'], { stdio: 'ignore' }).status === 0;
  return available;
}

function runDkimpy(mode: string, config: Record<string, unknown>, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', SCRIPT, mode, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`dkimpy ${mode} exited with ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.end(input);
  });
}

/** Signs with dkim.sign (relaxed/relaxed); RSA keys as PKCS#1 PEM, Ed25519 keys as the base64 32-byte seed. */
export function dkimpySign(
  message: Buffer,
  signer: { domain: string; selector: string; key: string; algorithm: 'rsa-sha256' | 'ed25519-sha256' },
): Promise<Buffer> {
  return runDkimpy('sign', signer, message);
}

/** Adds an ARC set with dkim.arc_sign; the message needs an Authentication-Results field of `srv_id`. */
export function dkimpyArcSign(
  message: Buffer,
  sealer: { domain: string; selector: string; key: string; srv_id: string },
): Promise<Buffer> {
  return runDkimpy('arc-sign', sealer, message);
}

/** dkim.arc_verify with key records from `records` (name -> TXT text): the chain validation and why. */
export async function dkimpyArcVerify(
  message: Buffer,
  records: Record<string, string>,
): Promise<{ cv: string; comment: string }> {
  const output = await runDkimpy('arc-verify', { records }, message);
  return JSON.parse(output.toString()) as { cv: string; comment: string };
}

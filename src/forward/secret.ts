import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The SRS secret's file under the data directory. */
export const SRS_SECRET_FILE = 'srs.key';

/** 32 random bytes: twice the 16 that docs/reference/srs.md asks for at least. */
const SECRET_BYTES = 32;

function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * The SRS secrets in `<dataDir>/srs.key`, one per line, newest first (rotation: put a new line
 * first, drop the old one after the SRS maximum age). The file is made on first use with one new
 * random secret, readable by the owner only; when two processes race, the one that loses reads the
 * winner's file.
 */
export async function loadSrsSecrets(dataDir: string): Promise<string[]> {
  const file = path.join(dataDir, SRS_SECRET_FILE);
  try {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${randomBytes(SECRET_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (!isErrorCode(error, 'EEXIST')) throw error;
  }
  const secrets = (await readFile(file, 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (secrets.length === 0) throw new Error(`${file}: no SRS secret in it`);
  return secrets;
}

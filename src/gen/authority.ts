import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { COOKIE_BYTES, cookieFor, encodeCookie, MAX_EPOCH, normalizeZone } from './chain.js';
import { createPrivateFile, readJsonFile, replaceFile } from './files.js';
import { formatGenTxt, genRecordName, genZoneFileLine } from './txt.js';

/*
 * The authority side of generation cookies: a secret seed, a chain length and the last released
 * epoch, kept in a 0600 JSON file. Releasing publishes the next cookie as a TXT record in a zone file.
 */

const FORMAT = 'outpost-gen-authority/1';

const authorityStateSchema = z
  .object({
    format: z.literal(FORMAT),
    zone: z.string().min(1),
    length: z.number().int().min(1).max(MAX_EPOCH),
    seed: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters'),
    releasedEpoch: z.number().int().min(0).nullable(),
  })
  .strict();

type AuthorityState = z.infer<typeof authorityStateSchema>;

/** What may be shown about an authority: everything but the seed. */
export interface AuthoritySummary {
  zone: string;
  length: number;
  /** Null until the first release (epoch 0). */
  releasedEpoch: number | null;
  /** Releases left; the last epoch is length - 1 because k[length] is the seed itself. */
  remaining: number;
  current?: { epoch: number; cookie: string; recordName: string; txt: string };
}

/** One release: the epoch and its (now public) cookie. */
export interface Release {
  zone: string;
  epoch: number;
  cookie: Buffer;
}

async function loadAuthority(path: string): Promise<AuthorityState> {
  const parsed = authorityStateSchema.safeParse(await readJsonFile(path));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path} is not an authority state file: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

function summarize(state: AuthorityState): AuthoritySummary {
  const released = state.releasedEpoch;
  const summary: AuthoritySummary = {
    zone: state.zone,
    length: state.length,
    releasedEpoch: released,
    remaining: state.length - (released === null ? 0 : released + 1),
  };
  if (released === null) return summary;
  const cookie = cookieFor(Buffer.from(state.seed, 'hex'), state.zone, state.length, released);
  return {
    ...summary,
    current: {
      epoch: released,
      cookie: encodeCookie(cookie),
      recordName: genRecordName(state.zone),
      txt: formatGenTxt(released, cookie),
    },
  };
}

/** Creates a new authority with a fresh random seed; refuses to overwrite an existing file. */
export async function initAuthority(path: string, zone: string, length: number): Promise<AuthoritySummary> {
  if (!Number.isInteger(length) || length < 1 || length > MAX_EPOCH) {
    throw new Error(`chain length must be an integer from 1 to ${MAX_EPOCH}, got ${length}`);
  }
  const state: AuthorityState = {
    format: FORMAT,
    zone: normalizeZone(zone),
    length,
    seed: randomBytes(COOKIE_BYTES).toString('hex'),
    releasedEpoch: null,
  };
  try {
    await createPrivateFile(path, `${JSON.stringify(state, null, 2)}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(
        `${path} already exists; an authority's seed is never replaced (choose another --state)`,
      );
    }
    throw error;
  }
  return summarize(state);
}

/** The authority's zone, length and current release, never its seed. */
export async function showAuthority(path: string): Promise<AuthoritySummary> {
  return summarize(await loadAuthority(path));
}

/**
 * Releases the next epoch (0 first). With a zone file, the record is written there before the
 * state advances, so a failed write can simply be retried and publishes the same epoch again.
 */
export async function releaseNext(path: string, options: { zoneFile?: string } = {}): Promise<Release> {
  const state = await loadAuthority(path);
  const epoch = state.releasedEpoch === null ? 0 : state.releasedEpoch + 1;
  if (epoch >= state.length) {
    throw new Error(
      `the chain of ${state.zone} is exhausted (epoch ${state.length - 1} was the last; ` +
        `epoch ${state.length} would publish the seed): start a new chain with a new zone`,
    );
  }
  const cookie = cookieFor(Buffer.from(state.seed, 'hex'), state.zone, state.length, epoch);
  if (options.zoneFile !== undefined)
    await writeReleaseToZoneFile(options.zoneFile, state.zone, epoch, cookie);
  await replaceFile(path, `${JSON.stringify({ ...state, releasedEpoch: epoch }, null, 2)}\n`);
  return { zone: state.zone, epoch, cookie };
}

/**
 * Puts the release's TXT line into a zone file (created with `$ORIGIN <zone>.` when missing),
 * replacing any earlier `_gen.<zone>.` line and keeping every other line as it was.
 */
export async function writeReleaseToZoneFile(
  zoneFile: string,
  zone: string,
  epoch: number,
  cookie: Uint8Array,
): Promise<void> {
  let existing = '';
  try {
    existing = await readFile(zoneFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const owner = `${genRecordName(zone)}.`;
  const kept = existing
    .replace(/\n+$/, '')
    .split('\n')
    .filter((line) => line.trim().split(/\s+/)[0]?.toLowerCase() !== owner);
  // A new file needs an origin, or a master-file reader (`outpost dns serve`) has no zone to put it in.
  if (kept.length === 1 && kept[0] === '') kept.splice(0, 1, `$ORIGIN ${normalizeZone(zone)}.`);
  kept.push(genZoneFileLine(zone, epoch, cookie));
  // Zone data is public; 0644 lets a DNS server running as another user read it.
  await replaceFile(zoneFile, `${kept.join('\n')}\n`, 0o644);
}

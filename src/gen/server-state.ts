import { z } from 'zod';
import { isDnsError, isNoRecords, type Resolver } from '../dns/types.js';
import {
  compareGenerations,
  decodeCookie,
  encodeCookie,
  type GenerationComparison,
  MAX_EPOCH,
  MAX_HASHES,
  normalizeZone,
} from './chain.js';
import { createPrivateFile, readJsonFile, replaceFile } from './files.js';
import { type GenRelease, genRecordName, looksLikeGenTxt, parseGenTxt } from './txt.js';

/**
 * A mail server's own generation: the zone (chain) it follows, its current epoch and cookie, and
 * how many generations older a peer may be. Kept in a 0600 JSON file, changed only by an operator.
 */
export interface ServerGenState {
  zone: string;
  epoch: number;
  cookie: Buffer;
  maxAge: number;
}

/** How many generations behind us a peer may be when the operator does not say. */
export const DEFAULT_MAX_AGE = 3;

/** What `gen update` did. Refusals are thrown as errors that say why. */
export type UpdateOutcome =
  | { status: 'advanced'; zone: string; from: number; to: number; generations: number }
  | { status: 'current'; zone: string; epoch: number };

const FORMAT = 'outpost-gen-state/1';

const stateFileSchema = z
  .object({
    format: z.literal(FORMAT),
    zone: z.string().min(1),
    epoch: z.number().int().min(0).max(MAX_EPOCH),
    cookie: z.string(),
    maxAge: z.number().int().min(0).max(MAX_HASHES),
  })
  .strict();

function serialize(state: ServerGenState): string {
  const file = { format: FORMAT, ...state, cookie: encodeCookie(state.cookie) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Checks and normalizes a state built from operator input; throws with the reason. */
export function makeServerState(input: {
  zone: string;
  epoch: number;
  cookie: string;
  maxAge: number;
}): ServerGenState {
  const cookie = decodeCookie(input.cookie);
  if (cookie === undefined) throw new Error(`cookie "${input.cookie}" is not the base64 of 32 bytes`);
  if (!Number.isInteger(input.epoch) || input.epoch < 0 || input.epoch > MAX_EPOCH) {
    throw new Error(`epoch must be an integer from 0 to ${MAX_EPOCH}, got ${input.epoch}`);
  }
  if (!Number.isInteger(input.maxAge) || input.maxAge < 0 || input.maxAge > MAX_HASHES) {
    throw new Error(`max age must be an integer from 0 to ${MAX_HASHES}, got ${input.maxAge}`);
  }
  return { zone: normalizeZone(input.zone), epoch: input.epoch, cookie, maxAge: input.maxAge };
}

/** Reads a server's generation state, naming the file and the field in every error. */
export async function loadServerState(path: string): Promise<ServerGenState> {
  const parsed = stateFileSchema.safeParse(await readJsonFile(path));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path} is not a generation state file: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  try {
    return makeServerState(parsed.data);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/**
 * Creates the state from a starting point the operator trusts (the authority's announcement or a
 * distribution's default); every later update is checked against it. Refuses to overwrite.
 */
export async function initServerState(path: string, state: ServerGenState): Promise<void> {
  try {
    await createPrivateFile(path, serialize(state));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`${path} already exists; use "gen update" to move it forward`);
    }
    throw error;
  }
}

async function fetchRelease(zone: string, resolver: Resolver): Promise<GenRelease> {
  const name = genRecordName(zone);
  let records: string[][];
  try {
    records = await resolver.resolveTxt(name);
  } catch (error) {
    if (isNoRecords(error)) throw new Error(`no generation record at ${name} (nothing released yet?)`);
    const code = isDnsError(error) ? error.code : (error as Error).message;
    throw new Error(`DNS lookup of ${name} TXT failed: ${code}`);
  }
  // A TXT record may arrive split into several strings; they form one text.
  const generationTexts = records.map((chunks) => chunks.join('')).filter(looksLikeGenTxt);
  if (generationTexts.length === 0) throw new Error(`no "v=gen1" TXT record at ${name}`);
  if (generationTexts.length > 1) {
    throw new Error(
      `${generationTexts.length} "v=gen1" TXT records at ${name}; the authority publishes exactly one`,
    );
  }
  try {
    return parseGenTxt(generationTexts[0] as string);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}

/**
 * Fetches `_gen.<zone>` and moves the state forward only if the new cookie hashes back to the one
 * we hold. The DNS answer needs no trust: a forged or foreign cookie cannot pass that test.
 */
export async function updateFromDns(statePath: string, resolver: Resolver): Promise<UpdateOutcome> {
  const state = await loadServerState(statePath);
  const release = await fetchRelease(state.zone, resolver);
  if (release.epoch < state.epoch) {
    throw new Error(
      `DNS offers epoch ${release.epoch} of ${state.zone}, older than our epoch ${state.epoch}; keeping ours`,
    );
  }
  const comparison = compareGenerations({
    zone: state.zone,
    ownEpoch: state.epoch,
    ownCookie: state.cookie,
    peerEpoch: release.epoch,
    peerCookie: release.cookie,
    maxAge: state.maxAge,
  });
  if (comparison.result === 'fail') {
    throw new Error(
      `DNS offers epoch ${release.epoch} of ${state.zone} but its cookie does not hash back to our ` +
        `epoch ${state.epoch} cookie: refused (forged, or a different chain)`,
    );
  }
  if (release.epoch === state.epoch) return { status: 'current', zone: state.zone, epoch: state.epoch };
  await replaceFile(statePath, serialize({ ...state, epoch: release.epoch, cookie: release.cookie }));
  return {
    status: 'advanced',
    zone: state.zone,
    from: state.epoch,
    to: release.epoch,
    generations: release.epoch - state.epoch,
  };
}

/** Compares a peer's offered epoch and base64 cookie with our state; throws on a malformed cookie. */
export function verifyPeer(state: ServerGenState, epoch: number, cookieBase64: string): GenerationComparison {
  const cookie = decodeCookie(cookieBase64);
  if (cookie === undefined) throw new Error(`cookie "${cookieBase64}" is not the base64 of 32 bytes`);
  return compareGenerations({
    zone: state.zone,
    ownEpoch: state.epoch,
    ownCookie: state.cookie,
    peerEpoch: epoch,
    peerCookie: cookie,
    maxAge: state.maxAge,
  });
}

function generations(count: number): string {
  return count === 1 ? '1 generation' : `${count} generations`;
}

/** The human sentence for a comparison, from the receiving server's point of view. */
export function describeComparison(comparison: GenerationComparison): string {
  if (comparison.result === 'fail') {
    return comparison.reason === 'too-old'
      ? `Your mail server is ${generations(comparison.generationsOlder)} out of date`
      : 'Generation cookie is not on the chain';
  }
  if ('generationsOlder' in comparison)
    return `Peer is ${generations(comparison.generationsOlder)} older, within the allowed age`;
  return comparison.generationsNewer === 0
    ? 'Peer is at the same generation'
    : `Peer is ${generations(comparison.generationsNewer)} newer`;
}

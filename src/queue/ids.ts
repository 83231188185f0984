import { randomInt } from 'node:crypto';

// Crockford base32 in upper case: no I, L, O, U, so ids survive being read aloud or retyped, and
// one case only, so they are safe as file names on case-insensitive file systems.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10; // 50 bits of milliseconds: enough until the year 37000
const SUFFIX_CHARS = 6; // 30 bits
const SUFFIX_LIMIT = 2 ** (5 * SUFFIX_CHARS);
// A new millisecond starts the suffix in the lower half, so the counter has room to climb.
const SUFFIX_START_LIMIT = SUFFIX_LIMIT / 2;

/** Shape of every id newQueueId() returns. */
export const QUEUE_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{16}$/;

let lastMs = 0;
let lastSuffix = 0;

function encode(value: number, chars: number): string {
  let text = '';
  let rest = value;
  for (let i = 0; i < chars; i++) {
    text = ALPHABET.charAt(rest % 32) + text;
    rest = Math.floor(rest / 32);
  }
  return text;
}

/**
 * A new queue id: 16 characters, time-ordered (10 characters of milliseconds, then a suffix that
 * starts at random each millisecond and counts up within it), unique within the process and
 * unlikely to collide across processes (30 random bits per millisecond), safe in file names.
 */
export function newQueueId(): string {
  let ms = Date.now();
  // A clock that steps back must not break ordering or uniqueness: stay on the last millisecond.
  if (ms <= lastMs) {
    ms = lastMs;
    lastSuffix += 1;
    if (lastSuffix >= SUFFIX_LIMIT) {
      ms += 1;
      lastSuffix = randomInt(SUFFIX_START_LIMIT);
    }
  } else {
    lastSuffix = randomInt(SUFFIX_START_LIMIT);
  }
  lastMs = ms;
  return encode(ms, TIME_CHARS) + encode(lastSuffix, SUFFIX_CHARS);
}

/** The millisecond timestamp encoded in a queue id, or undefined when it is not one. */
export function queueIdTime(id: string): number | undefined {
  if (!QUEUE_ID_PATTERN.test(id)) return undefined;
  let ms = 0;
  for (const char of id.slice(0, TIME_CHARS)) ms = ms * 32 + ALPHABET.indexOf(char);
  return ms;
}

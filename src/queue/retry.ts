import type { LeasedRecipient } from './store/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** When to try a deferred recipient again, and when to give up. */
export interface RetryPolicy {
  /** Wait after the 1st, 2nd, ... failed attempt (ms); the last entry repeats. */
  schedule: readonly number[];
  /** Age (from the recipient's expiryBase, see retryLifeStart) after which a deferral turns into expiry. */
  maxAgeMs: number;
  /** Spread each delay by up to +/- this fraction (0 or absent = exact, for determinism). */
  jitter?: number;
}

/** 1m, 5m, 15m, 30m, 1h, 2h, 4h, then every 4h; expiry after 5 days; no jitter. */
export const defaultRetryPolicy: RetryPolicy = {
  schedule: [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR],
  maxAgeMs: 5 * 24 * HOUR,
  jitter: 0,
};

/**
 * When a recipient's retry life began: its expiryBase from the store (reception, or its last
 * release/requeue if later), else its message's reception for recipients built outside a store.
 */
export function retryLifeStart(rcpt: Pick<LeasedRecipient, 'receivedAt' | 'expiryBase'>): number {
  return rcpt.expiryBase ?? rcpt.receivedAt;
}

/**
 * When a recipient whose delivery just failed temporarily is due again. `attempts` counts the
 * attempts made so far, this one included; `lifeStart` is when its retry life began
 * (retryLifeStart). The last try lands exactly at the expiry time, so a message expires close to
 * maxAge rather than up to one long delay after it.
 */
export function nextAttempt(
  attempts: number,
  lifeStart: number,
  now: number,
  policy: RetryPolicy = defaultRetryPolicy,
  random: () => number = Math.random,
): { at: number } | { expired: true } {
  const expiresAt = lifeStart + policy.maxAgeMs;
  if (now >= expiresAt) return { expired: true };
  const { schedule } = policy;
  const index = Math.min(Math.max(attempts, 1), schedule.length) - 1;
  const base = schedule[index] ?? MINUTE;
  const jitter = policy.jitter ?? 0;
  const spread = jitter > 0 ? base * jitter * (2 * random() - 1) : 0;
  const at = Math.round(now + Math.max(0, base + spread));
  return { at: Math.min(at, expiresAt) };
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultRetryPolicy, nextAttempt, retryLifeStart } from '../../../src/queue/retry.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const received = 1_700_000_000_000;

test('the default schedule: 1m, 5m, 15m, 30m, 1h, 2h, 4h, then every 4h', () => {
  const now = received + HOUR;
  const waits = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempts) => {
    const next = nextAttempt(attempts, received, now);
    assert.ok('at' in next);
    return next.at - now;
  });
  assert.deepEqual(waits, [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR]);
});

test('expires after maxAge, with a last try exactly at the deadline', () => {
  const deadline = received + defaultRetryPolicy.maxAgeMs;
  assert.deepEqual(nextAttempt(9, received, deadline - HOUR), { at: deadline });
  assert.deepEqual(nextAttempt(10, received, deadline), { expired: true });
  const short = { schedule: [MIN], maxAgeMs: 10 * MIN };
  assert.deepEqual(nextAttempt(1, received, received + 10 * MIN + 1, short), { expired: true });
});

test('jitter spreads the delay within its bounds and is off by default', () => {
  const policy = { ...defaultRetryPolicy, jitter: 0.5 };
  const now = received;
  assert.deepEqual(
    nextAttempt(1, received, now, policy, () => 0),
    { at: now + MIN / 2 },
  );
  assert.deepEqual(
    nextAttempt(1, received, now, policy, () => 1),
    { at: now + (3 * MIN) / 2 },
  );
  assert.deepEqual(
    nextAttempt(1, received, now, defaultRetryPolicy, () => 0),
    { at: now + MIN },
  );
});

test('the retry life starts at the later release, not at reception', () => {
  const released = received + 6 * 24 * HOUR;
  const now = released + MIN;
  assert.equal(retryLifeStart({ receivedAt: received }), received, 'never moved: reception');
  assert.equal(retryLifeStart({ receivedAt: received, expiryBase: released }), released);
  assert.deepEqual(
    nextAttempt(1, received, now),
    { expired: true },
    'counted from reception it would expire',
  );
  assert.deepEqual(nextAttempt(1, retryLifeStart({ receivedAt: received, expiryBase: released }), now), {
    at: now + MIN,
  });
});

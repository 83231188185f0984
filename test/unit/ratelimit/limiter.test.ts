import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { type RateLimitConfig, rateLimitConfigSchema } from '../../../src/ratelimit/config.js';
import { BUCKET_MS, describeExceeded, RateLimiter, WINDOW_MS } from '../../../src/ratelimit/limiter.js';

/** A settable clock, so a test can move through the hour without waiting. */
function clock(start: number): { now: () => number; advance(ms: number): void } {
  let at = start;
  return {
    now: () => at,
    advance(ms) {
      at += ms;
    },
  };
}

async function counterFile(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-ratelimit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'data', 'ratelimit.db');
}

function limits(raw: Record<string, unknown>): RateLimitConfig {
  return rateLimitConfigSchema.parse(raw);
}

const START = Date.UTC(2030, 0, 1, 12, 0, 0);

test('the third message of an hour goes over messages_per_hour = 2 and says when it fits again', async (t) => {
  const time = clock(START + 10_000);
  const limiter = new RateLimiter(
    await counterFile(t),
    limits({ per_user: { messages_per_hour: 2 } }),
    time.now,
  );
  t.after(() => limiter.close());
  const alice = { user: 'Alice@example.test', ip: '192.0.2.7' };
  assert.equal(limiter.record(alice, 1), undefined);
  time.advance(5 * 60_000);
  assert.equal(limiter.record(alice, 1), undefined);
  const exceeded = limiter.checkMessage(alice);
  assert.ok(exceeded);
  assert.equal(exceeded.who, 'user alice@example.test');
  assert.equal(exceeded.metric, 'messages');
  assert.equal(exceeded.used, 2);
  // The first message's minute leaves the window a full hour after that minute ends.
  assert.equal(exceeded.resetsAt, START + BUCKET_MS + WINDOW_MS);
  assert.equal(
    describeExceeded(exceeded),
    'Rate limit for user alice@example.test: 2 messages per hour, 2 used in the last hour; try again after 2030-01-01T13:01:00Z',
  );
  assert.deepEqual(limiter.record(alice, 1), exceeded, 'record refuses too, and counts nothing');
  assert.equal(limiter.checkMessage({ user: 'bob@example.test', ip: '192.0.2.8' }), undefined);
});

test('the window slides: a message fits again once the oldest minute has left the hour', async (t) => {
  const time = clock(START);
  const limiter = new RateLimiter(
    await counterFile(t),
    limits({ per_user: { messages_per_hour: 1 } }),
    time.now,
  );
  t.after(() => limiter.close());
  const alice = { user: 'alice@example.test' };
  assert.equal(limiter.record(alice, 1), undefined);
  time.advance(WINDOW_MS);
  assert.ok(
    limiter.checkMessage(alice),
    'still counted an hour later (the minute has not ended an hour ago)',
  );
  time.advance(BUCKET_MS);
  assert.equal(limiter.checkMessage(alice), undefined);
  assert.equal(limiter.record(alice, 1), undefined);
});

test('counters survive closing and reopening the limiter', async (t) => {
  const file = await counterFile(t);
  const time = clock(START);
  const config = limits({ per_user: { messages_per_hour: 3 }, per_ip: { recipients_per_hour: 5 } });
  const first = new RateLimiter(file, config, time.now);
  const alice = { user: 'alice@example.test', ip: '198.51.100.4' };
  assert.equal(first.record(alice, 2), undefined);
  assert.equal(first.record(alice, 2), undefined);
  first.close();

  time.advance(10 * 60_000);
  const reopened = new RateLimiter(file, config, time.now);
  t.after(() => reopened.close());
  const recipients = reopened.checkRecipients({ ip: '198.51.100.4' }, 2);
  assert.ok(recipients, 'the 4 recipients of before the restart still count');
  assert.equal(recipients.who, 'client 198.51.100.4');
  assert.equal(recipients.used, 4);
  assert.equal(reopened.checkRecipients({ ip: '198.51.100.4' }, 1), undefined);
  assert.equal(reopened.record({ user: 'alice@example.test' }, 0), undefined);
  assert.equal(reopened.checkMessage({ user: 'alice@example.test' })?.used, 3);
});

test('one IPv6 /64 counts as one client', async (t) => {
  const limiter = new RateLimiter(
    await counterFile(t),
    limits({ per_ip: { messages_per_hour: 1 } }),
    clock(START).now,
  );
  t.after(() => limiter.close());
  assert.equal(limiter.record({ ip: '2001:db8:1:2::10' }, 1), undefined);
  const exceeded = limiter.checkMessage({ ip: '2001:db8:1:2:abcd::99' });
  assert.equal(exceeded?.who, 'client network 2001:db8:1:2::/64');
  assert.equal(limiter.checkMessage({ ip: '2001:db8:1:3::10' }), undefined);
});

test('a message with more recipients than the hourly limit can never fit', async (t) => {
  const limiter = new RateLimiter(
    await counterFile(t),
    limits({ per_user: { recipients_per_hour: 3 } }),
    clock(START).now,
  );
  t.after(() => limiter.close());
  const exceeded = limiter.checkRecipients({ user: 'alice@example.test' }, 4);
  assert.ok(exceeded);
  assert.equal(exceeded.resetsAt, undefined);
  assert.match(describeExceeded(exceeded), /this message alone has 4 recipients; send fewer per message/);
});

test('limits of 0 are off; the config schema fills defaults and refuses unknown keys', async (t) => {
  const config = limits({ recipients_per_message: 0, per_user: { messages_per_hour: 0 } });
  assert.equal(config.per_ip.messages_per_hour, 500);
  assert.equal(config.database, 'ratelimit.db');
  const limiter = new RateLimiter(await counterFile(t), config, clock(START).now);
  t.after(() => limiter.close());
  assert.equal(limiter.recipientsPerMessage, undefined);
  for (let i = 0; i < 5; i++) assert.equal(limiter.record({ user: 'alice@example.test' }, 1), undefined);
  assert.equal(rateLimitConfigSchema.safeParse({ per_user: { mesages_per_hour: 1 } }).success, false);
  assert.equal(rateLimitConfigSchema.safeParse({ per_ip: { messages_per_hour: -1 } }).success, false);
});

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { formatReply } from '../../../src/core/reply.js';
import type { Resolver } from '../../../src/dns/types.js';
import { closeSharedGreylistStores, GreylistStore } from '../../../src/greylist/store.js';
import { makeTriplet, networkOf, normalizeSender } from '../../../src/greylist/triplet.js';
import type { CheckContext, CheckResult } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { stageReply } from '../../../src/pipeline/reply.js';
import { runStage, type StageOutcome } from '../../../src/pipeline/run-stage.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 2, 3, 9, 0, 0);

const unused = () => Promise.reject(new Error('the greylist check uses no DNS'));
const noDns: Resolver = {
  resolve: unused,
  resolve4: unused,
  resolve6: unused,
  resolveMx: unused,
  resolveTxt: unused,
  resolvePtr: unused,
  resolveSrv: unused,
  resolveCname: unused,
  reverse: unused,
};

interface Attempt {
  at: number;
  ip?: string;
  from?: string;
  to?: string;
  user?: string;
  earlier?: Record<string, CheckResult>;
}

/** A greylist with its database in a fresh temp dir, and a way to make delivery attempts at given times. */
async function greylistWorld(t: TestContext, options: Record<string, unknown> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-greylist-'));
  const file = path.join(dir, 'greylist.db');
  t.after(async () => {
    closeSharedGreylistStores();
    await rm(dir, { recursive: true, force: true });
  });
  const block = { use: 'greylist', path: file, ...options };
  const attempt = async (a: Attempt): Promise<{ result: CheckResult; outcome: StageOutcome }> => {
    const ip = a.ip ?? '192.0.2.10';
    const session: CheckContext['session'] = {
      id: 'test-session',
      remoteAddress: ip,
      remotePort: 40000,
      localAddress: '127.0.0.1',
      localPort: 25,
      secure: false,
      esmtp: true,
      state: {},
      ...(a.user === undefined ? {} : { user: a.user }),
    };
    const outcome = await runStage('rcpt', compileChecks([block]), {
      client: { ip, port: 40000 },
      session,
      mailFrom: a.from ?? 'alice@sender.test',
      rcpt: a.to ?? 'bob@rcpt.test',
      dns: noDns,
      earlier: new Map(Object.entries(a.earlier ?? {})),
      now: () => a.at,
    });
    const result = outcome.results.get('greylist');
    if (result === undefined) throw new Error('greylist did not run');
    return { result, outcome };
  };
  return { file, attempt };
}

test('the first attempt is greylisted: fail, deferred with 451 4.7.1', async (t) => {
  const world = await greylistWorld(t);
  const { result, outcome } = await world.attempt({ at: T0 });
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Greylisted, please try again later');
  assert.equal(result.details?.greylist, 'new');
  assert.equal(outcome.action, 'defer');
  const reply = stageReply(outcome);
  assert.ok(reply);
  assert.equal(formatReply(reply), '451 4.7.1 Greylisted, please try again later\r\n');
});

test('a retry before the delay is refused again; after it, it passes and is remembered', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0 });
  const early = await world.attempt({ at: T0 + 4 * MINUTE });
  assert.equal(early.result.result, 'fail');
  assert.equal(early.result.details?.greylist, 'early');
  assert.equal(early.result.details?.wait_seconds, '60');
  assert.equal(early.outcome.action, 'defer');
  const retry = await world.attempt({ at: T0 + 6 * MINUTE });
  assert.equal(retry.result.result, 'pass');
  assert.equal(retry.result.details?.greylist, 'passed');
  assert.equal(retry.outcome.action, 'accept');
  const later = await world.attempt({ at: T0 + 10 * DAY });
  assert.equal(later.result.result, 'pass');
  assert.equal(later.result.details?.greylist, 'known');
});

test('a retry outside the retry window starts over', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0 });
  const tooLate = await world.attempt({ at: T0 + DAY + MINUTE });
  assert.equal(tooLate.result.result, 'fail');
  assert.equal(tooLate.result.details?.greylist, 'new');
  const stillEarly = await world.attempt({ at: T0 + DAY + 3 * MINUTE });
  assert.equal(stillEarly.result.details?.greylist, 'early');
  const retry = await world.attempt({ at: T0 + DAY + 7 * MINUTE });
  assert.equal(retry.result.result, 'pass');
});

test('delay and retry window are configurable', async (t) => {
  const world = await greylistWorld(t, { delay: '1m', retry_window: '10m' });
  await world.attempt({ at: T0 });
  assert.equal((await world.attempt({ at: T0 + 2 * MINUTE })).result.result, 'pass');
  await world.attempt({ at: T0, to: 'carol@rcpt.test' });
  assert.equal((await world.attempt({ at: T0 + 11 * MINUTE, to: 'carol@rcpt.test' })).result.result, 'fail');
});

test('a passed triplet unused for longer than expire is greylisted again', async (t) => {
  const world = await greylistWorld(t, { expire: '30d' });
  await world.attempt({ at: T0 });
  await world.attempt({ at: T0 + 6 * MINUTE });
  assert.equal((await world.attempt({ at: T0 + 29 * DAY })).result.result, 'pass');
  const forgotten = await world.attempt({ at: T0 + 29 * DAY + 31 * DAY });
  assert.equal(forgotten.result.result, 'fail');
  assert.equal(forgotten.result.details?.greylist, 'new');
});

test('a retry from another host of the same /24 counts; another /24 does not', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0, ip: '192.0.2.10' });
  assert.equal((await world.attempt({ at: T0 + 6 * MINUTE, ip: '192.0.2.77' })).result.result, 'pass');
  assert.equal((await world.attempt({ at: T0 + 7 * MINUTE, ip: '192.0.3.10' })).result.result, 'fail');
});

test('IPv6 clients are grouped by /64, IPv4-mapped addresses as IPv4', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0, ip: '2001:db8:1:2::10' });
  assert.equal(
    (await world.attempt({ at: T0 + 6 * MINUTE, ip: '2001:db8:1:2:ffff::1' })).result.result,
    'pass',
  );
  assert.equal((await world.attempt({ at: T0 + 6 * MINUTE, ip: '2001:db8:1:3::10' })).result.result, 'fail');
  await world.attempt({ at: T0, ip: '::ffff:198.51.100.4' });
  assert.equal((await world.attempt({ at: T0 + 6 * MINUTE, ip: '198.51.100.200' })).result.result, 'pass');
});

test('each recipient and each sender is its own triplet', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0 });
  await world.attempt({ at: T0 + 6 * MINUTE });
  assert.equal((await world.attempt({ at: T0 + 7 * MINUTE, to: 'carol@rcpt.test' })).result.result, 'fail');
  assert.equal(
    (await world.attempt({ at: T0 + 7 * MINUTE, from: 'mallory@sender.test' })).result.result,
    'fail',
  );
  assert.equal(
    (await world.attempt({ at: T0 + 7 * MINUTE, from: 'ALICE@Sender.Test', to: 'Bob@RCPT.test' })).result
      .result,
    'pass',
  );
});

test('per-message VERP numbers, +extensions and BATV tags do not make a new triplet', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0, from: 'list-bounces-4711@lists.test' });
  assert.equal(
    (await world.attempt({ at: T0 + 6 * MINUTE, from: 'list-bounces-4712@lists.test' })).result.result,
    'pass',
  );
  assert.equal(normalizeSender('prvs=1234abcd=Alice+news@Sender.Test'), 'alice@sender.test');
  assert.equal(normalizeSender(''), '');
});

test('authenticated sessions are not greylisted and leave no state', async (t) => {
  const world = await greylistWorld(t);
  const { result, outcome } = await world.attempt({ at: T0, user: 'alice' });
  assert.equal(result.result, 'none');
  assert.equal(result.details?.exempt, 'authenticated');
  assert.equal(outcome.action, 'accept');
  closeSharedGreylistStores();
  const store = new GreylistStore(world.file);
  t.after(() => store.close());
  assert.equal(store.count(), 0);
});

test('a client a trust list vouches for (rttl pass) is not greylisted; an unlisted one is', async (t) => {
  const world = await greylistWorld(t);
  const trusted = await world.attempt({ at: T0, earlier: { rttl: { result: 'pass', method: 'dnswl' } } });
  assert.equal(trusted.result.result, 'none');
  assert.equal(trusted.result.details?.exempt, 'rttl');
  const unlisted = await world.attempt({ at: T0, earlier: { rttl: { result: 'none', method: 'dnswl' } } });
  assert.equal(unlisted.result.result, 'fail');
});

test('whitelisted networks are not greylisted', async (t) => {
  const world = await greylistWorld(t, { whitelist: ['198.51.100.0/24', '2001:db8:ff::/48'] });
  assert.equal((await world.attempt({ at: T0, ip: '198.51.100.9' })).result.details?.exempt, 'whitelist');
  assert.equal((await world.attempt({ at: T0, ip: '2001:db8:ff:1::5' })).result.details?.exempt, 'whitelist');
  assert.equal((await world.attempt({ at: T0, ip: '198.51.101.9' })).result.result, 'fail');
});

test('state survives closing and reopening the database', async (t) => {
  const world = await greylistWorld(t);
  await world.attempt({ at: T0 });
  closeSharedGreylistStores();
  assert.equal((await world.attempt({ at: T0 + 6 * MINUTE })).result.result, 'pass');
  closeSharedGreylistStores();
  assert.equal((await world.attempt({ at: T0 + 2 * DAY })).result.details?.greylist, 'known');
});

test('cleanup forgets abandoned first attempts and expired passes, keeps the rest', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-greylist-'));
  const store = new GreylistStore(path.join(dir, 'nested', 'greylist.db'));
  t.after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const policy = { delayMs: 5 * MINUTE, retryWindowMs: DAY, expireMs: 36 * DAY };
  const triplet = (n: number) =>
    makeTriplet('192.0.2.1', `s${String.fromCharCode(97 + n)}@a.test`, 'r@b.test');
  store.decide(triplet(0), T0, policy); // never retried
  store.decide(triplet(1), T0 + 10 * MINUTE, policy);
  store.decide(triplet(1), T0 + 20 * MINUTE, policy); // passed, then never used again
  store.decide(triplet(2), T0 + 30 * MINUTE, policy);
  store.decide(triplet(2), T0 + 40 * MINUTE, policy); // passed, used again below
  assert.equal(store.count(), 3);
  // The first decision more than an hour after the last cleanup purges as it goes.
  assert.equal(store.decide(triplet(2), T0 + 20 * DAY, policy).kind, 'known');
  assert.equal(store.count(), 2, 'the abandoned first attempt is gone');
  store.decide(triplet(3), T0 + 37 * DAY, policy);
  assert.equal(store.count(), 2, 'the pass unused for 36 days is gone, the fresh attempt is kept');
  assert.equal(store.decide(triplet(2), T0 + 38 * DAY, policy).kind, 'known');
  assert.equal(store.decide(triplet(1), T0 + 38 * DAY, policy).kind, 'new');
});

test('networks are written in CIDR form with host bits cleared', () => {
  assert.equal(networkOf('192.0.2.77'), '192.0.2.0/24');
  assert.equal(networkOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(networkOf('2001:db8::1'), '2001:db8::/64');
  assert.equal(networkOf('192.0.2.77', { ipv4: 16, ipv6: 48 }), '192.0.0.0/16');
  assert.throws(() => networkOf('not-an-ip'), /not an IP address/);
});

test('configuration: a delay as long as the retry window, a bad CIDR or duration are refused', () => {
  assert.throws(
    () => compileChecks([{ use: 'greylist', delay: '1d', retry_window: '1d' }]),
    /delay must be shorter/,
  );
  assert.throws(() => compileChecks([{ use: 'greylist', whitelist: ['192.0.2.0/33'] }]), /CIDR/);
  assert.throws(() => compileChecks([{ use: 'greylist', expire: 'soon' }]), /duration/);
  const [compiled] = compileChecks([{ use: 'greylist' }]);
  assert.equal(compiled?.stage, 'rcpt');
  assert.equal(compiled?.actions.fail, 'defer');
});

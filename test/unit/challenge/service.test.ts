import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChallengeService } from '../../../src/challenge/service.js';
import { headerValues } from '../../../src/dsn/headers.js';
import { ALICE, BOB, challengeWorld, DAY, STRANGER, statuses } from './world.js';

const PLAIN = 'Subject: Hello\r\n';

function decideFor(
  overrides: Partial<{ sender: string; headers: string; authenticated: boolean; rcpt: string }>,
) {
  return {
    user: ALICE,
    sender: overrides.sender ?? STRANGER,
    headers: overrides.headers ?? PLAIN,
    authenticated: overrides.authenticated ?? true,
    recipientAddress: overrides.rcpt ?? ALICE,
  };
}

test('a mailbox that did not opt in gets everything', async (t) => {
  const { service } = await challengeWorld(t);
  assert.deepEqual(await service.decide({ ...decideFor({}), user: BOB, recipientAddress: BOB }), {
    action: 'deliver',
    reason: 'not-enabled',
  });
  assert.equal((await service.decide(decideFor({}))).action, 'hold');
});

test('never challenged: null sender, bulk/list/junk precedence, List-Id, Auto-Submitted other than no', async (t) => {
  const { service } = await challengeWorld(t);
  const cases: Array<[Parameters<typeof decideFor>[0], string]> = [
    [{ sender: '' }, 'null-sender'],
    [{ headers: 'Precedence: bulk\r\n' }, 'precedence'],
    [{ headers: 'precedence:  LIST \r\n' }, 'precedence'],
    [{ headers: 'Precedence: junk (old style)\r\n' }, 'precedence'],
    [{ headers: 'List-Id: Friends <friends.lists.example>\r\n' }, 'list-id'],
    [{ headers: 'Auto-Submitted: auto-replied\r\n' }, 'auto-submitted'],
    [{ headers: 'Auto-Submitted: auto-generated; type=dsn\r\n' }, 'auto-submitted'],
    // Exempt even when unauthenticated: these are delivered, never put in Junk.
    [{ headers: 'List-Id: <x.example>\r\n', authenticated: false }, 'list-id'],
  ];
  for (const [input, reason] of cases) {
    assert.deepEqual(
      await service.decide(decideFor(input)),
      { action: 'deliver', reason },
      JSON.stringify(input),
    );
  }
  // Only the header section counts, and "no" means a person sent it.
  assert.equal((await service.decide(decideFor({ headers: 'Auto-Submitted: no\r\n' }))).action, 'hold');
  assert.equal(
    (await service.decide(decideFor({ headers: 'Subject: x\r\n\r\nList-Id: <in.the.body>\r\n' }))).action,
    'hold',
  );
  assert.equal((await service.decide(decideFor({ headers: 'Precedence: first-class\r\n' }))).action, 'hold');
});

test('an unknown sender that is not authenticated goes to Junk: a challenge could hit a forged address', async (t) => {
  const { service } = await challengeWorld(t);
  assert.deepEqual(await service.decide(decideFor({ authenticated: false })), {
    action: 'junk',
    reason: 'unauthenticated',
  });
});

test('held, challenged, then a reply to the confirm address releases the message and whitelists the sender', async (t) => {
  const world = await challengeWorld(t, { baseUrl: 'https://mail.example.org/' });
  const { service, store } = world;
  const queueId = await world.queue(STRANGER, [{ address: ALICE }, { address: BOB, status: 'queued' }]);
  const [outcome] = await service.afterQueued(queueId, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  assert.ok(outcome?.challenge, 'a challenge was built');
  const challenge = outcome.challenge;

  // The challenge itself: null sender, to the stranger, from alice's confirm address, queued for real.
  assert.equal(challenge.sender, '');
  assert.deepEqual(
    challenge.recipients.map((r) => [r.address, r.target]),
    [[STRANGER, 'smtp']],
  );
  const queued = await store.body(challenge.id);
  assert.ok(queued);
  const from = headerValues(queued, 'from')[0] ?? '';
  const confirm = /<(alice-confirm-accept\.\d+\.\d+\.[0-9a-f]{6}@example\.org)>/.exec(from)?.[1];
  assert.ok(confirm, `confirm address in From: ${from}`);
  assert.equal(headerValues(queued, 'auto-submitted')[0], 'auto-replied');
  assert.equal(headerValues(queued, 'in-reply-to')[0], '<m1@remote.example>');
  assert.match(headerValues(queued, 'subject')[0] ?? '', /Please confirm your message: Hello there/);
  assert.match(queued.toString(), /https:\/\/mail\.example\.org\/challenge\/confirm\/[A-Za-z0-9_-]{43}\r\n/);

  assert.deepEqual(await statuses(store, queueId), ['held', 'queued']);
  assert.equal(service.listPending().length, 1);

  // A bounce of the challenge comes back to the confirm address with the null sender: no release.
  assert.deepEqual(await service.confirmByAddress(confirm, ''), { kind: 'invalid', reason: 'null-sender' });
  // A forged cookie does not verify.
  const forged = confirm.replace(/[0-9a-f]{6}@/, (mac) => `${mac[0] === '0' ? '1' : '0'}${mac.slice(1)}`);
  assert.equal((await service.confirmByAddress(forged, STRANGER)).kind, 'invalid');
  assert.deepEqual(await statuses(store, queueId), ['held', 'queued']);

  const confirmed = await service.confirmByAddress(confirm.toUpperCase(), STRANGER);
  assert.equal(confirmed.kind, 'released');
  assert.deepEqual(await statuses(store, queueId), ['queued', 'queued']);
  assert.deepEqual(
    service.whitelist(ALICE).map((e) => [e.entry, e.source]),
    [[STRANGER, 'confirm']],
  );
  assert.deepEqual(await service.decide(decideFor({ authenticated: false })), {
    action: 'deliver',
    reason: 'whitelisted',
  });
  assert.equal(service.listPending().length, 0);
  assert.equal((await service.confirmByAddress(confirm, STRANGER)).kind, 'already');
});

test('a confirmation releases every message the sender has waiting for that user, not for others', async (t) => {
  const world = await challengeWorld(t);
  await world.service.setEnabled(BOB, true);
  const first = await world.queue(STRANGER, [{ address: ALICE }]);
  const second = await world.queue(STRANGER, [{ address: ALICE }, { address: BOB }]);
  const [a] = await world.service.afterQueued(first, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  await world.service.afterQueued(
    second,
    [
      { rcptIndex: 0, user: ALICE },
      { rcptIndex: 1, user: BOB },
    ],
    STRANGER,
  );
  assert.equal(world.service.listPending().length, 3);
  assert.ok(a);
  const outcome = await world.service.confirmByAddress(
    /<([^>]+)>/.exec(headerValues(a.challenge?.body ?? Buffer.alloc(0), 'reply-to')[0] ?? '')?.[1] ?? '',
    STRANGER,
  );
  assert.equal(outcome.kind, 'released');
  assert.deepEqual(await statuses(world.store, first), ['queued']);
  assert.deepEqual(await statuses(world.store, second), ['queued', 'held']);
  assert.deepEqual(
    world.service.listPending().map((e) => e.user),
    [BOB],
  );
});

test('at most dailyLimit challenges per sender per day; the messages stay held regardless', async (t) => {
  const world = await challengeWorld(t, { dailyLimit: 2 });
  const sent = async (): Promise<boolean> => {
    const id = await world.queue(STRANGER, [{ address: ALICE }]);
    const [outcome] = await world.service.afterQueued(id, [{ rcptIndex: 0, user: ALICE }], STRANGER);
    assert.deepEqual(await statuses(world.store, id), ['held']);
    return outcome?.challenge !== undefined;
  };
  assert.deepEqual([await sent(), await sent(), await sent()], [true, true, false]);
  const other = await world.queue('friend@other.example', [{ address: ALICE }]);
  const [otherOutcome] = await world.service.afterQueued(
    other,
    [{ rcptIndex: 0, user: ALICE }],
    'friend@other.example',
  );
  assert.ok(otherOutcome?.challenge, 'the limit is per sender');
  assert.deepEqual(
    world.service.listPending().map((e) => e.challenged),
    [true, true, false, true],
  );
  world.clock.now += DAY;
  assert.equal(await sent(), true, 'a new day, a new allowance');
});

test('at most domainDailyLimit challenges per sender domain per day, however many addresses it makes up', async (t) => {
  const world = await challengeWorld(t, { dailyLimit: 3, domainDailyLimit: 2 });
  const challenged = async (sender: string): Promise<boolean> => {
    const id = await world.queue(sender, [{ address: ALICE }]);
    const [outcome] = await world.service.afterQueued(id, [{ rcptIndex: 0, user: ALICE }], sender);
    assert.deepEqual(await statuses(world.store, id), ['held']);
    return outcome?.challenge !== undefined;
  };
  assert.deepEqual(
    [
      await challenged('a1@spam.example'),
      await challenged('a2@spam.example'),
      await challenged('a3@Spam.Example'),
      await challenged('a4@spam.example'),
    ],
    [true, true, false, false],
  );
  assert.equal(await challenged('friend@other.example'), true, 'other domains have their own allowance');
  world.clock.now += DAY;
  assert.equal(await challenged('a5@spam.example'), true, 'a new day, a new allowance');
});

test('unconfirmed messages expire after 14 days: removed when all theirs, else the held rows expire', async (t) => {
  const world = await challengeWorld(t);
  const alone = await world.queue(STRANGER, [{ address: ALICE }]);
  const shared = await world.queue(STRANGER, [{ address: ALICE }, { address: BOB, status: 'queued' }]);
  await world.service.afterQueued(alone, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  await world.service.afterQueued(shared, [{ rcptIndex: 0, user: ALICE }], STRANGER);

  assert.equal(await world.service.expire(world.clock.now + 14 * DAY - 1), 0);
  assert.deepEqual(await statuses(world.store, alone), ['held']);

  world.clock.now += 14 * DAY;
  assert.equal(await world.service.expire(), 2);
  assert.equal(await world.store.message(alone), undefined);
  assert.deepEqual(await statuses(world.store, shared), ['expired', 'queued']);
  assert.equal(world.service.listPending().length, 0);
  assert.equal(world.service.pending(1)?.state, 'expired');
  assert.equal(await world.service.expire(), 0);
});

test('operator release and discard', async (t) => {
  const world = await challengeWorld(t);
  const one = await world.queue(STRANGER, [{ address: ALICE }]);
  const two = await world.queue(STRANGER, [{ address: ALICE }, { address: BOB, status: 'queued' }]);
  const [first] = await world.service.afterQueued(one, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  const [second] = await world.service.afterQueued(two, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  assert.ok(first && second);

  assert.deepEqual(await world.service.release(first.pendingId), {
    pendingId: first.pendingId,
    queueId: one,
    recipients: 1,
  });
  assert.deepEqual(await statuses(world.store, one), ['queued']);
  assert.deepEqual(world.service.whitelist(ALICE), [], 'a plain release does not whitelist');
  assert.equal(await world.service.release(first.pendingId), undefined, 'only once');

  assert.equal(await world.service.discard(second.pendingId), true);
  assert.deepEqual(await statuses(world.store, two), ['failed', 'queued']);
  assert.equal(await world.service.discard(second.pendingId), false);

  const three = await world.queue(STRANGER, [{ address: ALICE }]);
  const [third] = await world.service.afterQueued(three, [{ rcptIndex: 0, user: ALICE }], STRANGER);
  assert.ok(third);
  await world.service.release(third.pendingId, { whitelist: true });
  assert.deepEqual(
    world.service.whitelist(ALICE).map((e) => [e.entry, e.source]),
    [[STRANGER, 'operator']],
  );
});

test('whitelist entries: an address, or a domain with its subdomains', async (t) => {
  const { service } = await challengeWorld(t);
  service.addToWhitelist(ALICE, '@Partner.Example');
  const decide = (sender: string) => service.decide(decideFor({ sender, authenticated: false }));
  assert.equal((await decide('anyone@partner.example')).action, 'deliver');
  assert.equal((await decide('x@mx.eu.partner.example')).action, 'deliver');
  assert.equal((await decide('x@notpartner.example')).action, 'junk');
  assert.equal(service.removeFromWhitelist(ALICE, 'partner.example'), true);
  assert.equal((await decide('anyone@partner.example')).action, 'junk');
  assert.equal(service.removeFromWhitelist(ALICE, 'partner.example'), false);
});

test('a dated address lets anyone through until it expires', async (t) => {
  const world = await challengeWorld(t);
  const dated = world.service.address(ALICE, { kind: 'dated', expiresAt: world.clock.now + 5 * DAY });
  assert.match(dated, /^alice-dated-\d+\.[0-9a-f]{6}@example\.org$/);
  const decide = () => world.service.decide(decideFor({ rcpt: dated, authenticated: false }));
  assert.deepEqual(await decide(), { action: 'deliver', reason: 'dated' });
  world.clock.now += 5 * DAY;
  assert.deepEqual(await decide(), { action: 'deliver', reason: 'dated' }, 'valid through its last second');
  world.clock.now += 1000;
  assert.deepEqual(await decide(), { action: 'junk', reason: 'unauthenticated' });
  assert.equal((await world.service.decide(decideFor({ rcpt: dated }))).action, 'hold');
});

test('a sender address works only for that sender (or the domain it was made for)', async (t) => {
  const { service } = await challengeWorld(t);
  const forStranger = service.address(ALICE, { kind: 'sender', sender: 'Stranger@Remote.Example' });
  assert.match(forStranger, /^alice-sender-[0-9a-f]{6}@example\.org$/);
  assert.deepEqual(await service.decide(decideFor({ rcpt: forStranger })), {
    action: 'deliver',
    reason: 'sender',
  });
  assert.equal(
    (await service.decide(decideFor({ rcpt: forStranger, sender: 'other@remote.example' }))).action,
    'hold',
  );

  const forDomain = service.address(ALICE, { kind: 'sender', sender: 'remote.example' });
  assert.equal(
    (await service.decide(decideFor({ rcpt: forDomain, sender: 'other@remote.example' }))).action,
    'deliver',
  );
  // Bob's mailbox cannot lend alice's tagged addresses, and a forged MAC is nothing.
  await service.setEnabled(BOB, true);
  const asBob = forStranger.replace('alice-', 'bob-');
  assert.equal((await service.decide({ ...decideFor({ rcpt: asBob }), user: BOB })).action, 'hold');
});

test('a keyword address lets anyone through; its MAC must match', async (t) => {
  const { service } = await challengeWorld(t);
  const keyword = service.address(ALICE, { kind: 'keyword', keyword: 'Shop-Orders' });
  assert.match(keyword, /^alice-keyword-shop\?orders\.[0-9a-f]{6}@example\.org$/);
  assert.deepEqual(await service.decide(decideFor({ rcpt: keyword, authenticated: false })), {
    action: 'deliver',
    reason: 'keyword',
  });
  const tampered = keyword.replace('shop?orders', 'shop?order');
  assert.equal((await service.decide(decideFor({ rcpt: tampered }))).action, 'hold');
});

test("enable and disable keep the mailbox's other settings; unknown mailboxes are refused", async (t) => {
  const { service, store } = await challengeWorld(t);
  assert.deepEqual((await store.getUser(ALICE))?.settings, { quota: '1G', challenge: 'on' });
  assert.equal(await service.setEnabled(ALICE, false), true);
  assert.deepEqual((await store.getUser(ALICE))?.settings, { quota: '1G' });
  assert.equal(await service.isEnabled(ALICE), false);
  assert.equal(await service.setEnabled('nobody@example.org', true), false);
});

test('the key is made once and kept: addresses stay valid when the service reopens', async (t) => {
  const world = await challengeWorld(t);
  const keyword = world.service.address(ALICE, { kind: 'keyword', keyword: 'list-x' });
  const again = new ChallengeService({
    store: world.store,
    file: `${world.dir}/challenge.db`,
    hostname: 'mx.example.org',
  });
  t.after(() => again.close());
  assert.equal(again.address(ALICE, { kind: 'keyword', keyword: 'list-x' }), keyword);
});

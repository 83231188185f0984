import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type GenCookieOptions,
  genCookie,
  genCookieRegistration,
} from '../../../src/checks/gen-cookie/index.js';
import type { Resolver } from '../../../src/dns/types.js';
import { xgenVerb } from '../../../src/gen/xgen.js';
import type { CheckContext } from '../../../src/pipeline/check.js';
import type { SessionInfo } from '../../../src/protocol/smtp/types.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/gen/chain-vectors.json', import.meta.url), 'utf8'),
) as {
  kBase64: string[];
};
function b64(epoch: number): string {
  const text = vectors.kBase64[epoch];
  assert.ok(text, `vector ${epoch}`);
  return text;
}

// The check must not look anything up: every DNS call fails the test.
const noDns = new Proxy({} as Resolver, {
  get: () => () => Promise.reject(new Error('gen-cookie must not use DNS')),
});

const own: GenCookieOptions = { zone: 'gen.test', epoch: 7, cookie: b64(7), maxAge: 2 };

/** Runs the check the way the SMTP layer would: XGEN (if any) first, then the MAIL stage. */
async function mailStageAfter(xgenArgs?: string): Promise<Awaited<ReturnType<typeof genCookie.run>>> {
  const session: SessionInfo = {
    id: 's1',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 25,
    secure: false,
    esmtp: true,
    state: {},
  };
  if (xgenArgs !== undefined) assert.equal((await xgenVerb(session, xgenArgs)).code, 250);
  const ctx: CheckContext<GenCookieOptions> = {
    client: { ip: '127.0.0.1', port: 40000 },
    session,
    mailFrom: 'a@peer.test',
    dns: noDns,
    options: own,
    earlier: new Map(),
    now: () => 0,
    signal: new AbortController().signal,
  };
  return genCookie.run(ctx);
}

test('no XGEN offered: none', async () => {
  assert.deepEqual(await mailStageAfter(), { result: 'none' });
});

test('an offer for another zone: none', async () => {
  assert.deepEqual(await mailStageAfter(`other.test 9 ${b64(9)}`), { result: 'none' });
});

test('a newer peer passes', async () => {
  const result = await mailStageAfter(`GEN.TEST 12 ${b64(12)}`);
  assert.deepEqual(result, { result: 'pass', props: { 'policy.zone': 'gen.test', 'policy.epoch': '12' } });
});

test('a peer within max age passes', async () => {
  assert.equal((await mailStageAfter(`gen.test 5 ${b64(5)}`)).result, 'pass');
});

test('a peer beyond max age fails naming how many generations, suggesting 554 5.7.0', async () => {
  const result = await mailStageAfter(`gen.test 3 ${b64(3)}`);
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Your mail server is 4 generations out of date');
  assert.deepEqual(result.replyCode, { code: 554, enhanced: '5.7.0' });
});

test('a cookie off the chain fails', async () => {
  const result = await mailStageAfter(`gen.test 9 ${b64(10)}`);
  assert.equal(result.result, 'fail');
  assert.equal(result.reason, 'Generation cookie is not on the chain');
});

test('the options schema takes TOML keys, defaults max_age and refuses a bad cookie', () => {
  const schema = genCookieRegistration.optionsSchema;
  assert.deepEqual(schema.parse({ zone: 'gen.test', epoch: 7, cookie: b64(7), max_age: 5 }), {
    ...own,
    maxAge: 5,
  });
  assert.equal(schema.parse({ zone: 'gen.test', epoch: 7, cookie: b64(7) }).maxAge, 3);
  assert.equal(schema.safeParse({ zone: 'gen.test', epoch: 7, cookie: 'AAAA' }).success, false);
  assert.equal(schema.safeParse({ zone: 'gen.test', epoch: 7, cookie: b64(7), maxage: 1 }).success, false);
  assert.deepEqual(genCookieRegistration.defaults, { fail: 'reject' });
});

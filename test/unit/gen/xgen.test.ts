import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReply } from '../../../src/core/reply.js';
import { formatXgen, parseXgen, readXgenOffer, xgenVerb } from '../../../src/gen/xgen.js';
import type { SessionInfo } from '../../../src/protocol/smtp/types.js';

const cookie = Buffer.alloc(32, 0xab);
const b64 = cookie.toString('base64');

function session(): SessionInfo {
  return {
    id: 's1',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 25,
    secure: false,
    esmtp: true,
    state: {},
  };
}

test('a well-formed XGEN parses, with the zone lower-cased', () => {
  assert.deepEqual(parseXgen(`Gen.Test 7 ${b64}`), {
    ok: true,
    offer: { zone: 'gen.test', epoch: 7, cookie },
  });
});

test('formatXgen writes what parseXgen reads', () => {
  const line = formatXgen({ zone: 'gen.test', epoch: 7, cookie });
  assert.equal(line, `XGEN gen.test 7 ${b64}`);
  assert.deepEqual(parseXgen(line.slice('XGEN '.length)), {
    ok: true,
    offer: { zone: 'gen.test', epoch: 7, cookie },
  });
});

test('malformed XGEN arguments get 501 5.5.4 with a reason', () => {
  const cases: [string, RegExp][] = [
    ['', /Syntax: XGEN <zone> <epoch> <base64 cookie>/],
    ['gen.test 7', /Syntax: XGEN/],
    [`gen.test 7 ${b64} extra`, /Syntax: XGEN/],
    [`gen..test 7 ${b64}`, /zone "gen\.\.test" is not a domain name/],
    [`gen.test seven ${b64}`, /epoch "seven" is not a decimal number/],
    [`gen.test 07 ${b64}`, /epoch "07"/],
    [`gen.test 99999999999 ${b64}`, /epoch "99999999999"/],
    ['gen.test 7 AAAA', /cookie is not the base64 of 32 bytes/],
    [`gen.test 7 ${b64.replace('=', '')}`, /cookie is not the base64/],
  ];
  for (const [args, text] of cases) {
    const parsed = parseXgen(args);
    assert.equal(parsed.ok, false, args);
    if (parsed.ok) continue;
    assert.equal(parsed.reply.code, 501, args);
    assert.equal(parsed.reply.enhanced, '5.5.4', args);
    assert.match(formatReply(parsed.reply), /^501 5\.5\.4 /);
    assert.match(parsed.reply.text, text, args);
  }
});

test('the verb stores a good offer for the MAIL stage and answers 250 2.0.0', async () => {
  const s = session();
  const answer = await xgenVerb(s, `gen.test 7 ${b64}`);
  assert.equal(formatReply(answer), '250 2.0.0 Generation 7 of gen.test noted\r\n');
  assert.deepEqual(readXgenOffer(s.state), { zone: 'gen.test', epoch: 7, cookie });
});

test('the verb stores nothing for a malformed offer', async () => {
  const s = session();
  const answer = await xgenVerb(s, 'gen.test 7 nope');
  assert.equal(answer.code, 501);
  assert.equal(readXgenOffer(s.state), undefined);
});

test('readXgenOffer ignores state of the wrong shape', () => {
  assert.equal(readXgenOffer({ xgen: { zone: 'gen.test', epoch: 7, cookie: b64 } }), undefined);
  assert.equal(readXgenOffer({ xgen: 'gen.test' }), undefined);
});

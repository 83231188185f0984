import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatGenTxt,
  genRecordName,
  genZoneFileLine,
  looksLikeGenTxt,
  parseGenTxt,
} from '../../../src/gen/txt.js';

const cookie = Buffer.alloc(32, 7);
const b64 = cookie.toString('base64');

test('a release formats as "v=gen1; e=<epoch>; k=<base64>" and parses back', () => {
  const text = formatGenTxt(12, cookie);
  assert.equal(text, `v=gen1; e=12; k=${b64}`);
  assert.deepEqual(parseGenTxt(text), { epoch: 12, cookie });
  assert.deepEqual(parseGenTxt(`v=gen1;e=0;k=${b64}`), { epoch: 0, cookie });
});

test('the record lives at _gen.<zone> and the zone-file line is one quoted TXT', () => {
  assert.equal(genRecordName('Gen.Test'), '_gen.gen.test');
  assert.equal(genZoneFileLine('gen.test', 3, cookie), `_gen.gen.test. 300 IN TXT "v=gen1; e=3; k=${b64}"`);
});

test('parseGenTxt is strict and says what is wrong', () => {
  const cases: [string, RegExp][] = [
    [`v=gen2; e=1; k=${b64}`, /must start with "v=gen1"/],
    [`e=1; v=gen1; k=${b64}`, /must start with "v=gen1"/],
    [`v=gen1; e=01; k=${b64}`, /epoch "01" is not a decimal number/],
    [`v=gen1; e=-1; k=${b64}`, /epoch "-1"/],
    [`v=gen1; e=4294967296; k=${b64}`, /epoch "4294967296"/],
    [`v=gen1; k=${b64}; e=1`, /second field must be "e=<epoch>"/],
    ['v=gen1; e=1; k=AAAA', /not the base64 of 32 bytes/],
    [`v=gen1; e=1; k=${b64}; x=1`, /4 field\(s\)/],
    [`v=gen1; e=1; k=${b64};`, /4 field\(s\)/],
    ['v=gen1', /1 field\(s\)/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseGenTxt(text), message, text);
});

test('looksLikeGenTxt picks generation records out of other TXT records', () => {
  assert.equal(looksLikeGenTxt(`v=gen1; e=1; k=${b64}`), true);
  assert.equal(looksLikeGenTxt('v=spf1 -all'), false);
  assert.equal(looksLikeGenTxt('v=gen10; e=1'), false);
});

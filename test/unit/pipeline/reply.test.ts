import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReply } from '../../../src/core/reply.js';
import { softBounce, stageReply } from '../../../src/pipeline/reply.js';

test('accept and quarantine keep the default positive reply', () => {
  assert.equal(stageReply({ stage: 'rcpt', action: 'accept' }), undefined);
  assert.equal(stageReply({ stage: 'data', action: 'quarantine', reason: 'junk' }), undefined);
});

test('reject is 550 5.7.1 and defer 451 4.7.1 with the reason as text', () => {
  assert.deepEqual(stageReply({ stage: 'mail', action: 'reject', reason: 'Not allowed' }), {
    code: 550,
    enhanced: '5.7.1',
    text: 'Not allowed',
  });
  assert.deepEqual(stageReply({ stage: 'rcpt', action: 'defer', reason: 'Later' }), {
    code: 451,
    enhanced: '4.7.1',
    text: 'Later',
  });
});

test('at the greeting only 554 and 421 are valid; a delayed connect refusal uses 550', () => {
  assert.equal(stageReply({ stage: 'connect', action: 'reject', reason: 'x' })?.code, 554);
  assert.equal(stageReply({ stage: 'connect', action: 'defer', reason: 'x' })?.code, 421);
  assert.equal(
    stageReply({ stage: 'connect', action: 'reject', reason: 'x' }, { atGreeting: false })?.code,
    550,
  );
});

test('soft_bounce turns every 5xx into 4xx, and never touches a 4xx', () => {
  assert.deepEqual(stageReply({ stage: 'mail', action: 'reject', reason: 'No' }, { softBounce: true }), {
    code: 450,
    enhanced: '4.7.1',
    text: 'No',
  });
  assert.equal(
    stageReply({ stage: 'connect', action: 'reject', reason: 'No' }, { softBounce: true })?.code,
    421,
  );
  assert.equal(stageReply({ stage: 'mail', action: 'defer', reason: 'No' }, { softBounce: true })?.code, 451);
  assert.deepEqual(softBounce({ code: 554, enhanced: '5.7.0', text: 't' }), {
    code: 454,
    enhanced: '4.7.0',
    text: 't',
  });
  assert.deepEqual(softBounce({ code: 250, text: 'ok' }), { code: 250, text: 'ok' });
});

test("a check's suggested code is used only when it agrees with the action", () => {
  const suggestion = { code: 554, enhanced: '5.7.0' };
  assert.equal(
    stageReply({ stage: 'mail', action: 'reject', reason: 'old', replyCode: suggestion })?.code,
    554,
  );
  assert.equal(
    stageReply({ stage: 'mail', action: 'defer', reason: 'old', replyCode: suggestion })?.code,
    451,
  );
  const softened = stageReply(
    { stage: 'mail', action: 'reject', reason: 'old', replyCode: suggestion },
    { softBounce: true },
  );
  assert.deepEqual(softened, { code: 454, enhanced: '4.7.0', text: 'old' });
});

test('the reply text is one line without control characters, or the catalogue text', () => {
  const reply = stageReply({ stage: 'mail', action: 'reject', reason: 'from DNS:\r\n250 injected\tline' });
  assert.ok(reply);
  assert.equal(formatReply(reply), '550 5.7.1 from DNS: 250 injected line\r\n');
  assert.equal(stageReply({ stage: 'mail', action: 'reject' })?.text, 'Message refused by policy');
  assert.equal(
    stageReply({ stage: 'mail', action: 'defer' })?.text,
    'Message deferred by policy, try again later',
  );
});

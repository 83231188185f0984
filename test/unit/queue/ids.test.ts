import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newQueueId, QUEUE_ID_PATTERN, queueIdTime } from '../../../src/queue/ids.js';

test('queue ids are 16 file-name-safe characters, unique and in creation order', () => {
  const ids = Array.from({ length: 20_000 }, () => newQueueId());
  for (const id of ids) assert.match(id, QUEUE_ID_PATTERN);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids, 'sorting by id is sorting by creation');
});

test('a queue id carries its creation time', () => {
  const before = Date.now();
  const id = newQueueId();
  const after = Date.now();
  const time = queueIdTime(id);
  assert.ok(time !== undefined && time >= before && time <= after + 1);
  assert.equal(queueIdTime('not-an-id'), undefined);
});

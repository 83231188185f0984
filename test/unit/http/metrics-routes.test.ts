// GET /metrics: the Prometheus text format from a real registry, queue depth read from a real store.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { installErrorHandler } from '../../../src/http/errors.js';
import { metricsRoutes } from '../../../src/http/metrics-routes.js';
import { createMetrics } from '../../../src/metrics/registry.js';
import { newQueueId } from '../../../src/queue/ids.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';

test('GET /metrics needs no token and serves text/plain version 0.0.4 with the queue depth', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-metrics-route-'));
  const store = await openSqliteStore({ path: join(dir, 'db', 'queue.db'), bodiesDir: join(dir, 'bodies') });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const metrics = createMetrics({ queue: store, processMetrics: false });
  const app = Fastify();
  installErrorHandler(app);
  await app.register(metricsRoutes({ metrics }));
  t.after(() => app.close());

  await store.enqueue({
    id: newQueueId(),
    sender: 'a@x.example',
    body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    receivedAt: Date.now(),
    meta: {},
    recipients: [
      { address: 'b@y.example', target: 'smtp' },
      { address: 'c@y.example', target: 'smtp', status: 'held' },
    ],
  });
  metrics.accepted('mx');
  metrics.rejected('mx', 'RELAY_DENIED');

  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(res.body, /^outpost_queue_depth\{status="queued"\} 1$/m);
  assert.match(res.body, /^outpost_queue_depth\{status="held"\} 1$/m);
  assert.match(res.body, /^outpost_queue_depth\{status="failed"\} 0$/m);
  assert.match(res.body, /^outpost_messages_accepted_total\{listener="mx"\} 1$/m);
  assert.match(res.body, /^outpost_messages_rejected_total\{listener="mx",reason="RELAY_DENIED"\} 1$/m);
});

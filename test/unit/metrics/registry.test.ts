// Metrics recorded by the queue runner and the inbound side, read back in the exposition format.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reply } from '../../../src/core/reply.js';
import type { DeliveryBatch, DeliveryTarget } from '../../../src/delivery/types.js';
import { createMetrics } from '../../../src/metrics/registry.js';
import { newQueueId } from '../../../src/queue/ids.js';
import { QueueRunner } from '../../../src/queue/runner.js';
import { openSqliteStore } from '../../../src/queue/store/sqlite/index.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Delivers "ok*" recipients and refuses the others. */
const target: DeliveryTarget = {
  name: 'fake',
  async prepare(batch: DeliveryBatch) {
    return {
      results: [],
      async commit() {
        return batch.recipients.map((r) =>
          r.address.startsWith('ok')
            ? { rcptIndex: r.rcptIndex, status: 'delivered' as const, reply: reply(250, '2.0.0', 'ok') }
            : {
                rcptIndex: r.rcptIndex,
                status: 'failed' as const,
                reply: reply(550, '5.1.1', 'no such user'),
              },
        );
      },
      async abort() {},
    };
  },
};

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('the runner counts deliveries by target and result, times attempts, and counts notices', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-metrics-'));
  const store = await openSqliteStore({ path: join(dir, 'db', 'queue.db'), bodiesDir: join(dir, 'bodies') });
  const metrics = createMetrics({ queue: store, processMetrics: false });
  const runner = new QueueRunner({
    store,
    targets: { fake: target, sink: target },
    concurrency: 2,
    leaseMs: 60_000,
    pollMs: 20,
    logger: quiet,
    metrics,
    notices: {
      reportingMta: 'mx.test',
      warnAfterMs: 3_600_000,
      routeRecipient: (address) => ({ target: 'sink', address: `ok-${address}` }),
    },
  });
  t.after(async () => {
    await runner.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const id = newQueueId();
  await store.enqueue({
    id,
    sender: 'alice@x.example',
    body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    receivedAt: Date.now(),
    meta: {},
    recipients: ['ok1@y.example', 'ok2@y.example', 'bad@y.example'].map((address) => ({
      address,
      target: 'fake',
    })),
  });
  runner.start();
  let text = '';
  for (let i = 0; i < 500; i++) {
    text = await metrics.render();
    // The counter moves before the outcome is recorded: wait for both.
    const bounced = value(text, 'outpost_deliveries_total{target="sink",result="delivered"}') === 1;
    if (bounced && value(text, 'outpost_queue_depth{status="delivered"}') === 3) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(value(text, 'outpost_deliveries_total{target="fake",result="delivered"}'), 2);
  assert.equal(value(text, 'outpost_deliveries_total{target="fake",result="failed"}'), 1);
  assert.equal(
    value(text, 'outpost_deliveries_total{target="sink",result="delivered"}'),
    1,
    'the bounce went out',
  );
  assert.equal(
    value(text, 'outpost_delivery_seconds_count{target="fake"}'),
    1,
    'one attempt for the message',
  );
  assert.equal(value(text, 'outpost_dsn_total{kind="failure"}'), 1);
  assert.equal(value(text, 'outpost_queue_depth{status="delivered"}'), 3);
  assert.equal(value(text, 'outpost_queue_depth{status="failed"}'), 1);
});

test('inbound recordings and process metrics appear under the outpost_ prefix', async () => {
  const metrics = createMetrics();
  metrics.accepted('submission');
  metrics.accepted('submission');
  metrics.rejected('mx', 'POLICY_REJECT');
  metrics.dataToReply(0.004);
  metrics.rttlLookup('trust.example.org', 'pass');
  const text = await metrics.render();
  assert.equal(value(text, 'outpost_messages_accepted_total{listener="submission"}'), 2);
  assert.equal(value(text, 'outpost_messages_rejected_total{listener="mx",reason="POLICY_REJECT"}'), 1);
  assert.equal(value(text, 'outpost_smtp_data_to_reply_seconds_bucket{le="0.005"}'), 1);
  assert.equal(value(text, 'outpost_smtp_data_to_reply_seconds_bucket{le="0.0025"}'), 0);
  assert.equal(value(text, 'outpost_rttl_lookups_total{list="trust.example.org",result="pass"}'), 1);
  assert.match(text, /^outpost_process_cpu_user_seconds_total /m);
  assert.doesNotMatch(text, /outpost_queue_depth/, 'no queue given, no queue gauge');
});

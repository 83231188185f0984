import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import type { CheckResult } from '../../../src/pipeline/check.js';
import { compileChecks } from '../../../src/pipeline/config.js';
import { runStage, strongerAction } from '../../../src/pipeline/run-stage.js';
import { emptyContext, fakeCheck, reports } from './stage-checks.js';

test('actions merge as reject > defer > quarantine > accept', () => {
  assert.equal(strongerAction('accept', 'quarantine'), 'quarantine');
  assert.equal(strongerAction('defer', 'quarantine'), 'defer');
  assert.equal(strongerAction('defer', 'reject'), 'reject');
  assert.equal(strongerAction('reject', 'accept'), 'reject');
});

test('the strongest action wins; the first check in configuration order with it gives the reason', async () => {
  const registry = new Map([
    fakeCheck('soft', reports({ result: 'softfail', reason: 'soft reason' })),
    fakeCheck('hard1', reports({ result: 'fail', reason: 'first hard reason' })),
    fakeCheck('temp', reports({ result: 'temperror', reason: 'temp reason' })),
    fakeCheck('hard2', reports({ result: 'fail', reason: 'second hard reason' })),
  ]);
  const checks = compileChecks(
    [
      { use: 'soft', on: { softfail: 'quarantine' } },
      { use: 'temp', on: { temperror: 'defer' } },
      { use: 'hard1', on: { fail: 'reject' } },
      { use: 'hard2', on: { fail: 'reject' } },
    ],
    registry,
  );
  const outcome = await runStage('mail', checks, emptyContext());
  assert.equal(outcome.action, 'reject');
  assert.equal(outcome.decidedBy, 'hard1');
  assert.equal(outcome.reason, 'first hard reason');
  assert.deepEqual(
    outcome.decisions.map((decision) => [decision.check, decision.action]),
    [
      ['soft', 'quarantine'],
      ['temp', 'defer'],
      ['hard1', 'reject'],
      ['hard2', 'reject'],
    ],
  );
  assert.deepEqual([...outcome.results.keys()], ['soft', 'temp', 'hard1', 'hard2']);
});

test('without refusals a quarantine wins over accept, and all-accept has no deciding check', async () => {
  const registry = new Map([
    fakeCheck('ok', reports({ result: 'pass' })),
    fakeCheck('junk', reports({ result: 'neutral', reason: 'looks odd' }), {
      defaults: { neutral: 'quarantine' },
    }),
  ]);
  const quarantined = await runStage(
    'mail',
    compileChecks([{ use: 'ok' }, { use: 'junk' }], registry),
    emptyContext(),
  );
  assert.equal(quarantined.action, 'quarantine');
  assert.equal(quarantined.decidedBy, 'junk');
  const accepted = await runStage('mail', compileChecks([{ use: 'ok' }], registry), emptyContext());
  assert.equal(accepted.action, 'accept');
  assert.equal(accepted.decidedBy, undefined);
});

test('registration defaults apply unless configuration overrides them', async () => {
  const registry = new Map([
    fakeCheck('strict', reports({ result: 'fail' }), { defaults: { fail: 'reject' } }),
  ]);
  assert.equal(
    (await runStage('mail', compileChecks([{ use: 'strict' }], registry), emptyContext())).action,
    'reject',
  );
  const relaxed = compileChecks([{ use: 'strict', on: { fail: 'accept' } }], registry);
  assert.equal((await runStage('mail', relaxed, emptyContext())).action, 'accept');
});

test('a check that throws is temperror, never a silent pass; the detail is for the log only', async () => {
  const registry = new Map([
    fakeCheck('broken', async () => {
      throw new Error('secret internal detail');
    }),
  ]);
  const checks = compileChecks([{ use: 'broken', on: { temperror: 'defer' } }], registry);
  const outcome = await runStage('mail', checks, emptyContext());
  assert.equal(outcome.results.get('broken')?.result, 'temperror');
  assert.equal(outcome.action, 'defer');
  assert.equal(outcome.reason, 'The broken check could not complete');
  assert.equal(outcome.decisions[0]?.detail, 'secret internal detail');
});

test('a check that outlives its timeout is temperror and its signal is aborted', async () => {
  let sawAbort = false;
  const registry = new Map([
    fakeCheck('slow', (ctx) => {
      ctx.signal.addEventListener('abort', () => {
        sawAbort = true;
      });
      return new Promise<CheckResult>(() => {}); // never settles
    }),
  ]);
  const checks = compileChecks([{ use: 'slow', timeout: '20ms' }], registry);
  const outcome = await runStage('mail', checks, emptyContext());
  assert.equal(outcome.results.get('slow')?.result, 'temperror');
  assert.equal(outcome.decisions[0]?.detail, 'timed out after 20 ms');
  assert.equal(sawAbort, true);
});

test('a malformed result is temperror', async () => {
  const registry = new Map([fakeCheck('odd', async () => ({ result: 'ok' }) as unknown as CheckResult)]);
  const outcome = await runStage('mail', compileChecks([{ use: 'odd' }], registry), emptyContext());
  assert.equal(outcome.results.get('odd')?.result, 'temperror');
  assert.equal(outcome.decisions[0]?.detail, 'returned a malformed result');
});

test('aborting the stage (client gone) turns running checks into temperror', async () => {
  const registry = new Map([fakeCheck('waits', () => new Promise<CheckResult>(() => {}))]);
  const controller = new AbortController();
  const running = runStage('mail', compileChecks([{ use: 'waits' }], registry), emptyContext(), {
    signal: controller.signal,
  });
  controller.abort(new Error('client disconnected'));
  const outcome = await running;
  assert.equal(outcome.results.get('waits')?.result, 'temperror');
  assert.equal(outcome.decisions[0]?.detail, 'client disconnected');
});

test('an aborted stage signal stops each check, tells it through its own signal, and leaves no listener behind', async () => {
  const seen: AbortSignal[] = [];
  const registry = new Map([
    fakeCheck('waits', (ctx) => {
      seen.push(ctx.signal);
      return new Promise<CheckResult>(() => {});
    }),
  ]);
  const checks = compileChecks([{ use: 'waits' }], registry);
  const gone = new AbortController();
  gone.abort(new Error('client gone before the stage'));
  const early = await runStage('mail', checks, emptyContext(), { signal: gone.signal });
  assert.equal(early.decisions[0]?.detail, 'client gone before the stage');
  assert.equal(seen[0]?.aborted, true, "the check's own signal is aborted too");

  // Stages that finish normally take their listener off the session's signal.
  const session = new AbortController();
  const quick = compileChecks([{ use: 'quick' }], new Map([fakeCheck('quick', reports({ result: 'pass' }))]));
  for (let i = 0; i < 3; i++) await runStage('mail', quick, emptyContext(), { signal: session.signal });
  assert.equal(getEventListeners(session.signal, 'abort').length, 0);
});

test('dry_run logs what the check would have done and accepts', async () => {
  const logged: Array<Record<string, unknown>> = [];
  const registry = new Map([fakeCheck('trial', reports({ result: 'fail', reason: 'would refuse' }))]);
  const checks = compileChecks([{ use: 'trial', on: { fail: 'reject' }, dry_run: true }], registry);
  const outcome = await runStage('mail', checks, emptyContext(), {
    log: { info: (fields) => logged.push(fields) },
  });
  assert.equal(outcome.action, 'accept');
  assert.equal(outcome.results.get('trial')?.result, 'fail');
  assert.deepEqual(outcome.decisions[0], {
    check: 'trial',
    result: 'fail',
    action: 'reject',
    applied: 'accept',
    dryRun: true,
  });
  assert.equal(logged.length, 1);
  assert.equal(logged[0]?.wouldBe, 'reject');
  assert.equal(logged[0]?.check, 'trial');
});

test('only the checks of the stage run', async () => {
  let helloRan = false;
  const registry = new Map([
    fakeCheck('at-mail', reports({ result: 'pass' })),
    fakeCheck(
      'at-helo',
      async () => {
        helloRan = true;
        return { result: 'pass' };
      },
      { stage: 'helo' },
    ),
  ]);
  const outcome = await runStage(
    'mail',
    compileChecks([{ use: 'at-helo' }, { use: 'at-mail' }], registry),
    emptyContext(),
  );
  assert.deepEqual([...outcome.results.keys()], ['at-mail']);
  assert.equal(helloRan, false);
});

test('a check with `after` runs once its dependency is done and sees its result in earlier', async () => {
  const registry = new Map([
    fakeCheck(
      'dmarc-like',
      async (ctx) => ({ result: ctx.earlier.get('spf-like')?.result === 'pass' ? 'pass' : 'fail' }),
      {
        after: ['spf-like'],
      },
    ),
    fakeCheck('spf-like', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { result: 'pass' };
    }),
  ]);
  const outcome = await runStage(
    'mail',
    compileChecks([{ use: 'dmarc-like' }, { use: 'spf-like' }], registry),
    emptyContext(),
  );
  assert.equal(outcome.results.get('dmarc-like')?.result, 'pass');
});

test("the check's A-R method is filled in, also on a temperror the pipeline makes", async () => {
  const registry = new Map([
    fakeCheck('listed', reports({ result: 'pass' }), { method: 'dnswl' }),
    fakeCheck(
      'crashes',
      async () => {
        throw new Error('boom');
      },
      { method: 'iprev' },
    ),
  ]);
  const outcome = await runStage(
    'mail',
    compileChecks([{ use: 'listed' }, { use: 'crashes' }], registry),
    emptyContext(),
  );
  assert.equal(outcome.results.get('listed')?.method, 'dnswl');
  assert.equal(outcome.results.get('crashes')?.method, 'iprev');
});

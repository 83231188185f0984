// What the check pipeline itself costs per check: runStage with N checks that answer at once, with
// and without the caller's abort signal (the MX passes the session's), so the machinery around
// the checks (timeout, abort, merge) is all that is measured.
// Usage: npx tsx bench/checks/pipeline.ts [--checks 10] [--rounds 7] [--stages 5000]
import { parseArgs } from 'node:util';
import { compileChecks } from '../../src/pipeline/config.js';
import { runStage } from '../../src/pipeline/run-stage.js';
import { emptyContext, fakeCheck, reports } from '../../test/unit/pipeline/stage-checks.js';

const { values } = parseArgs({
  options: {
    checks: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '7' },
    stages: { type: 'string', default: '5000' },
  },
});
const CHECKS = Number(values.checks);
const ROUNDS = Number(values.rounds);
const STAGES = Number(values.stages);

const registry = new Map(
  Array.from({ length: CHECKS }, (_, i) =>
    fakeCheck(`instant${i}`, reports({ result: 'pass' }), { stage: 'data' }),
  ),
);
const checks = compileChecks(
  [...registry.keys()].map((use) => ({ use })),
  registry,
);
const context = emptyContext();
const session = new AbortController();

async function microsecondsPerStage(signal: AbortSignal | undefined): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < STAGES; i++) await runStage('data', checks, context, signal ? { signal } : {});
    best = Math.min(best, ((performance.now() - start) * 1000) / STAGES);
  }
  return best;
}

for (const [label, signal] of [
  ['without a caller signal', undefined],
  ["with the session's abort signal", session.signal],
] as const) {
  const perStage = await microsecondsPerStage(signal);
  console.log(
    `${label}: ${perStage.toFixed(1)} us per stage of ${CHECKS} checks, ${(perStage / CHECKS).toFixed(2)} us per check`,
  );
}

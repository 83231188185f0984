import { describeError } from '../core/errors.js';
import type {
  Action,
  CheckContext,
  CheckResult,
  CheckResultValue,
  ConfiguredAction,
  Stage,
} from './check.js';
import { ACTIONS, CHECK_RESULT_VALUES, type CompiledCheck } from './config.js';

/** What every check of a stage sees; each check adds its own options and signal. */
export type StageContext = Omit<CheckContext, 'options' | 'signal'>;

/** One check's part in a stage's decision, for the transaction's log line. */
export interface CheckDecision {
  check: string;
  result: CheckResultValue;
  /** The action configuration maps the result to. */
  action: Action;
  /** What the pipeline did: `action`, or accept under dry_run. */
  applied: Action;
  dryRun: boolean;
  /** Why a check became temperror (exception text, timeout); logged, never sent to the client. */
  detail?: string;
}

/** The one decision of a stage. */
export interface StageOutcome {
  stage: Stage;
  action: Action;
  /** The check whose action won the merge (absent when everything accepted). */
  decidedBy?: string;
  /** The deciding check's reason: the SMTP reply text when the action refuses. */
  reason?: string;
  /** The deciding check's suggested reply code, if any. */
  replyCode?: { code: number; enhanced: string };
  results: Map<string, CheckResult>;
  /** In configuration order. */
  decisions: CheckDecision[];
}

/** Where dry_run checks report what they would have done (a pino logger fits). */
export interface DryRunLog {
  info(fields: Record<string, unknown>, message: string): void;
}

export interface RunStageOptions {
  /** Aborts every check of the stage, e.g. when the client disconnects. */
  signal?: AbortSignal;
  log?: DryRunLog;
}

const RESULT_VALUES: ReadonlySet<string> = new Set(CHECK_RESULT_VALUES);

/** reject > defer > quarantine > accept. */
export function strongerAction(a: Action, b: Action): Action {
  return ACTIONS.indexOf(a) >= ACTIONS.indexOf(b) ? a : b;
}

/** The configured action for a result; `"policy"` takes the action the result says the sender's policy requests. */
function actionFor(configured: ConfiguredAction, result: CheckResult): Action {
  if (configured !== 'policy') return configured;
  const requested = result.requestedAction;
  return requested !== undefined && ACTIONS.includes(requested) ? requested : 'accept';
}

class CheckTimeout extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/**
 * How a stage stops its running checks when the caller's signal aborts (the client went away):
 * one listener on that signal for the whole stage, passed on to each check still running.
 * (An `AbortSignal.any` and an abort listener per check cost 12 us per check: bench/checks/pipeline.ts.)
 */
class StageAbort {
  private readonly running = new Set<(reason: Error) => void>();
  private readonly onAbort = (): void => {
    if (this.signal === undefined) return;
    const reason = abortReason(this.signal);
    for (const stop of this.running) stop(reason);
  };

  constructor(private readonly signal: AbortSignal | undefined) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Registers a running check's stop (called at once when already aborted); returns its removal. */
  add(stop: (reason: Error) => void): () => void {
    if (this.signal?.aborted) {
      stop(abortReason(this.signal));
      return () => undefined;
    }
    this.running.add(stop);
    return () => this.running.delete(stop);
  }

  close(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

interface Ran {
  result: CheckResult;
  detail?: string;
}

/** Runs one check under its timeout; a throw, a timeout, an abort or a malformed result is temperror. */
async function runOne(check: CompiledCheck, ctx: StageContext, stageAbort: StageAbort): Promise<Ran> {
  const controller = new AbortController();
  let fail: (reason: Error) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // The check's signal tells it to give up (its DNS lookups stop); the race stops waiting for it.
  const stop = (reason: Error): void => {
    controller.abort(reason);
    fail(reason);
  };
  const timer = setTimeout(() => stop(new CheckTimeout(check.timeoutMs)), check.timeoutMs);
  const forget = stageAbort.add(stop);
  try {
    const result = await Promise.race([check.run({ ...ctx, signal: controller.signal }), aborted]);
    if (typeof result === 'object' && result !== null && RESULT_VALUES.has(result.result)) {
      return {
        result:
          result.method === undefined && check.method !== undefined
            ? { ...result, method: check.method }
            : result,
      };
    }
    return temperror(check, 'returned a malformed result');
  } catch (error) {
    return temperror(check, error instanceof CheckTimeout ? error.message : describeError(error));
  } finally {
    clearTimeout(timer);
    forget();
  }
}

function temperror(check: CompiledCheck, detail: string): Ran {
  const result: CheckResult = { result: 'temperror', reason: `The ${check.name} check could not complete` };
  if (check.method !== undefined) result.method = check.method;
  return { result, detail };
}

/** Orders checks so that each comes after the same-stage checks it names in `after`. */
function dependencyOrder(checks: readonly CompiledCheck[]): CompiledCheck[] {
  const byName = new Map(checks.map((check) => [check.name, check]));
  const ordered: CompiledCheck[] = [];
  const visited = new Set<string>();
  const visit = (check: CompiledCheck) => {
    if (visited.has(check.name)) return;
    visited.add(check.name);
    for (const name of check.after) {
      const dependency = byName.get(name);
      if (dependency !== undefined) visit(dependency);
    }
    ordered.push(check);
  };
  for (const check of checks) visit(check);
  return ordered;
}

/** Starts every check at once; a check with `after` waits for those results and sees them in `earlier`. */
function startAll(checks: readonly CompiledCheck[], base: StageContext, stageAbort: StageAbort) {
  const running = new Map<string, Promise<Ran>>();
  for (const check of dependencyOrder(checks)) {
    const dependencies = check.after.flatMap((name) => {
      const started = running.get(name);
      return started === undefined ? [] : [started.then((ran) => [name, ran.result] as const)];
    });
    const ran =
      dependencies.length === 0
        ? runOne(check, base, stageAbort)
        : Promise.all(dependencies).then((results) =>
            runOne(check, { ...base, earlier: new Map([...base.earlier, ...results]) }, stageAbort),
          );
    running.set(check.name, ran);
  }
  return running;
}

/**
 * Runs the checks of one stage in parallel and merges their actions (reject > defer > quarantine >
 * accept; the first check in configuration order with the winning action decides and gives the
 * reply text). A dry_run check is logged and counted as accept.
 */
export async function runStage(
  stage: Stage,
  checks: readonly CompiledCheck[],
  base: StageContext,
  options: RunStageOptions = {},
): Promise<StageOutcome> {
  const ofStage = checks.filter((check) => check.stage === stage);
  const stageAbort = new StageAbort(options.signal);
  try {
    return await mergeOutcome(stage, ofStage, startAll(ofStage, base, stageAbort), options);
  } finally {
    stageAbort.close();
  }
}

/** Waits for each check in configuration order and merges their actions into the stage's decision. */
async function mergeOutcome(
  stage: Stage,
  ofStage: readonly CompiledCheck[],
  running: Map<string, Promise<Ran>>,
  options: RunStageOptions,
): Promise<StageOutcome> {
  const outcome: StageOutcome = { stage, action: 'accept', results: new Map(), decisions: [] };
  for (const check of ofStage) {
    const ran = await running.get(check.name);
    if (ran === undefined) continue;
    const { result } = ran;
    const action = actionFor(check.actions[result.result], result);
    const applied = check.dryRun ? 'accept' : action;
    outcome.results.set(check.name, result);
    outcome.decisions.push({
      check: check.name,
      result: result.result,
      action,
      applied,
      dryRun: check.dryRun,
      ...(ran.detail === undefined ? {} : { detail: ran.detail }),
    });
    if (check.dryRun && action !== 'accept') {
      options.log?.info(
        {
          stage,
          check: check.name,
          result: result.result,
          wouldBe: action,
          reason: result.reason,
          detail: ran.detail,
        },
        'dry run: check would have refused',
      );
    }
    if (strongerAction(applied, outcome.action) !== outcome.action) {
      outcome.action = applied;
      outcome.decidedBy = check.name;
      outcome.reason = result.reason;
      outcome.replyCode = result.replyCode;
    }
  }
  return outcome;
}

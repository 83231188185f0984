import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { OutpostError } from '../core/errors.js';
import type {
  Action,
  ActionMap,
  CheckContext,
  CheckRegistration,
  CheckResult,
  CheckResultValue,
  ConfiguredAction,
  Stage,
} from './check.js';
import { checkRegistry } from './registry.js';

/** Every result value, in RFC 8601 order. */
export const CHECK_RESULT_VALUES = [
  'pass',
  'fail',
  'none',
  'neutral',
  'softfail',
  'temperror',
  'permerror',
] as const satisfies readonly CheckResultValue[];

/** Every action, weakest first. */
export const ACTIONS = ['accept', 'quarantine', 'defer', 'reject'] as const satisfies readonly Action[];

/** How long a check may run when its block has no `timeout`. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** `"policy"` defers to the action the sender's published policy requests (see CheckResult.requestedAction). */
const actionSchema = z.enum([...ACTIONS, 'policy']);
const resultSchema = z.enum(CHECK_RESULT_VALUES);

/** The `on = { fail = "reject", ... }` table of a check block. */
export const actionMapSchema = z.partialRecord(resultSchema, actionSchema);

/** A check timeout: "5s", "500ms", or milliseconds (what the config loader turns durations into). */
export const timeoutSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as "5s" or "500ms", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** The keys every check block has; the rest belongs to the check's own options schema. */
const COMMON_KEYS = ['use', 'on', 'timeout', 'dry_run'] as const;

const commonEntrySchema = z.looseObject({
  use: z.string().min(1),
  on: actionMapSchema.optional(),
  timeout: timeoutSchema.optional(),
  dry_run: z.boolean().optional(),
});

type Registry = ReadonlyMap<string, CheckRegistration>;

function checkSpecificKeys(entry: Record<string, unknown>): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...entry };
  for (const key of COMMON_KEYS) delete rest[key];
  return rest;
}

/**
 * Schema of one `[[listeners.checks]]` block, including the named check's own options, so the
 * configuration loader reports every problem with its key path ("listeners[0].checks[1].lists...").
 */
export function checkEntrySchema(registry: Registry = checkRegistry) {
  return commonEntrySchema.superRefine((entry, ctx) => {
    const registration = registry.get(entry.use);
    if (registration === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['use'],
        message: `unknown check "${entry.use}" (known: ${[...registry.keys()].join(', ')})`,
      });
      return;
    }
    const parsed = registration.optionsSchema.safeParse(checkSpecificKeys(entry));
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  });
}

/** A configured check ready to run: options validated and bound, actions resolved, timeout in ms. */
export interface CompiledCheck {
  name: string;
  stage: Stage;
  /** Authentication-Results method, when it differs from the name. */
  method?: string;
  after: readonly string[];
  actions: Readonly<Record<CheckResultValue, ConfiguredAction>>;
  timeoutMs: number;
  dryRun: boolean;
  run(ctx: Omit<CheckContext, 'options'>): Promise<CheckResult>;
}

function resolveActions(
  defaults: ActionMap,
  configured: ActionMap | undefined,
): Record<CheckResultValue, ConfiguredAction> {
  const actions = {} as Record<CheckResultValue, ConfiguredAction>; // filled for every result value just below
  for (const result of CHECK_RESULT_VALUES) {
    actions[result] = configured?.[result] ?? defaults[result] ?? 'accept';
  }
  return actions;
}

function compileOne<Options>(
  registration: CheckRegistration<Options>,
  entry: z.output<typeof commonEntrySchema>,
  where: string,
): CompiledCheck {
  const parsed = registration.optionsSchema.safeParse(checkSpecificKeys(entry));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    throw new OutpostError(
      'CONFIG_INVALID',
      `${where}${path ? `.${path}` : ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const options = parsed.data;
  const { check } = registration;
  return {
    name: check.name,
    stage: check.stage,
    ...(check.method === undefined ? {} : { method: check.method }),
    after: check.after ?? [],
    actions: resolveActions(registration.defaults, entry.on),
    timeoutMs: entry.timeout ?? DEFAULT_CHECK_TIMEOUT_MS,
    dryRun: entry.dry_run ?? false,
    run: (ctx) => check.run({ ...ctx, options }),
  };
}

/**
 * Turns a listener's check blocks into runnable checks, once at startup. Throws CONFIG_INVALID naming
 * the block ("checks[2].threshold: ...") for unknown checks, bad options, a check configured twice
 * or `after` dependencies that form a cycle.
 */
export function compileChecks(
  entries: readonly unknown[],
  registry: Registry = checkRegistry,
): CompiledCheck[] {
  const compiled = entries.map((raw, index) => {
    const where = `checks[${index}]`;
    const common = commonEntrySchema.safeParse(raw);
    if (!common.success) {
      const issue = common.error.issues[0];
      throw new OutpostError(
        'CONFIG_INVALID',
        `${where}.${issue?.path.map(String).join('.')}: ${issue?.message}`,
      );
    }
    const registration = registry.get(common.data.use);
    if (registration === undefined) {
      throw new OutpostError('CONFIG_INVALID', `${where}.use: unknown check "${common.data.use}"`);
    }
    return compileOne(registration, common.data, where);
  });
  rejectDuplicates(compiled);
  rejectDependencyCycles(compiled);
  return compiled;
}

function rejectDuplicates(checks: readonly CompiledCheck[]): void {
  const seen = new Set<string>();
  for (const [index, check] of checks.entries()) {
    if (seen.has(check.name)) {
      throw new OutpostError('CONFIG_INVALID', `checks[${index}].use: "${check.name}" is configured twice`);
    }
    seen.add(check.name);
  }
}

function rejectDependencyCycles(checks: readonly CompiledCheck[]): void {
  const byName = new Map(checks.map((check) => [check.name, check]));
  const done = new Set<string>();
  const visit = (check: CompiledCheck, path: readonly string[]): void => {
    if (path.includes(check.name)) {
      throw new OutpostError(
        'CONFIG_INVALID',
        `checks: "after" forms a cycle: ${[...path, check.name].join(' -> ')}`,
      );
    }
    if (done.has(check.name)) return;
    for (const dependency of check.after) {
      const target = byName.get(dependency);
      if (target !== undefined && target.stage === check.stage) visit(target, [...path, check.name]);
    }
    done.add(check.name);
  };
  for (const check of checks) visit(check, []);
}

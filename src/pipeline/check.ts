import type { ZodType } from 'zod';
import type { Resolver } from '../dns/types.js';
import type { MailParams, SessionInfo, Transaction } from '../protocol/smtp/types.js';

/** Where in the SMTP dialogue a check runs. */
export type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data';

/** The facts a check can report (RFC 8601 result vocabulary). A check never decides. */
export type CheckResultValue = 'pass' | 'fail' | 'none' | 'neutral' | 'softfail' | 'temperror' | 'permerror';

/** What a check found: one result, why, and the Authentication-Results properties to print. */
export interface CheckResult {
  result: CheckResultValue;
  /** Human text; becomes the SMTP reply text when the configured action rejects or defers. */
  reason?: string;
  /** Authentication-Results ptype.property=value pairs, e.g. { 'smtp.mailfrom': 'a@b' }. */
  props?: Record<string, string>;
  /** Authentication-Results method name when it differs from the check name (e.g. 'dnswl'). */
  method?: string;
  /** Extra results (e.g. one per DKIM signature); printed as further A-R entries. */
  more?: CheckResult[];
  /** Facts for later checks and logs that do not belong in Authentication-Results (e.g. fcrdns' name). */
  details?: Record<string, string>;
  /**
   * The SMTP code the check suggests when its configured action refuses, e.g. 554 5.7.0 for gen-cookie.
   * Used only when its class agrees with the action (5xx for reject, 4xx for defer).
   */
  replyCode?: { code: number; enhanced: string };
  /**
   * The action the sender's own published policy asks for (DMARC's p=/sp= after pct sampling).
   * Applied only where configuration maps the result to `"policy"`.
   */
  requestedAction?: Action;
}

/** Everything a check may look at. Checks get DNS and data through here, never from globals. */
export interface CheckContext<Options = Record<string, unknown>> {
  client: { ip: string; port: number; ptr?: string };
  session: SessionInfo;
  helo?: string;
  mailFrom?: string;
  mailParams?: MailParams;
  transaction?: Transaction;
  /** The recipient under test at the rcpt stage. */
  rcpt?: string;
  /** The whole message at the data stage (CRLF, headers + body). */
  message?: Buffer;
  /** Per-message DNS view with a lookup budget and the shared cache. */
  dns: Resolver;
  /** The check's own configuration block (already validated by the check's schema). */
  options: Options;
  /** Results of checks that ran earlier for this message, by check name. */
  earlier: ReadonlyMap<string, CheckResult>;
  now: () => number;
  signal: AbortSignal;
}

/** One mechanism: reports a fact about the client or message. Options are typed by its schema. */
export interface Check<Options = Record<string, unknown>> {
  name: string;
  stage: Stage;
  /** Authentication-Results method when it differs from the name ('iprev', 'dnswl'); also used for
   * the temperror the pipeline reports when the check throws or times out. */
  method?: string;
  /** Checks of the same stage whose results this one reads from ctx.earlier; it runs after them. */
  after?: readonly string[];
  run(ctx: CheckContext<Options>): Promise<CheckResult>;
}

/** What the pipeline does with a result: the four outcomes of a stage. */
export type Action = 'accept' | 'quarantine' | 'defer' | 'reject';

/** What configuration maps a result to: an action, or `"policy"`: the result's `requestedAction` (accept without one). */
export type ConfiguredAction = Action | 'policy';

/** Result-to-action mapping; results not named are accepted. */
export type ActionMap = Partial<Record<CheckResultValue, ConfiguredAction>>;

/** How a check plugs into configuration: the check, its options schema, its default actions. */
export interface CheckRegistration<Options = Record<string, unknown>> {
  check: Check<Options>;
  /** Validates the check's own keys of a `[[listeners.checks]]` block (use/on/timeout/dry_run removed). */
  optionsSchema: ZodType<Options>;
  /** Actions when configuration does not say otherwise. */
  defaults: ActionMap;
}

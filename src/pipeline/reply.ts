import { Errors } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import type { StageOutcome } from './run-stage.js';

/** Listener settings that shape refusals. */
export interface ReplyOptions {
  /** `soft_bounce = true`: every 5xx becomes a 4xx, so nothing is lost while a policy is tried out. */
  softBounce?: boolean;
  /**
   * Whether the reply replaces the greeting, where only 554 and 421 are valid. Defaults to "the
   * stage is connect"; pass false when a connect-stage refusal is delayed to MAIL or RCPT.
   */
  atGreeting?: boolean;
}

// RFC 5321 4.3.2: the greeting may only be 220, 554 or 421; elsewhere 550 and 451 are the policy codes.
const REFUSALS = {
  connect: { reject: { code: 554, enhanced: '5.7.1' }, defer: { code: 421, enhanced: '4.7.1' } },
  other: { reject: { code: 550, enhanced: '5.7.1' }, defer: { code: 451, enhanced: '4.7.1' } },
} as const;

/** Reply text from a check's reason: one line, no control characters (reasons may quote DNS data). */
function replyText(reason: string | undefined, fallback: string): string {
  const line = (reason ?? '').replace(/[\p{Cc}]+/gu, ' ').trim();
  return line === '' ? fallback : line;
}

/** Turns a 5xx reply into its 4xx twin (550 5.7.1 -> 450 4.7.1; at the greeting 554 -> 421). */
export function softBounce(reply: Reply, atGreeting = false): Reply {
  if (reply.code < 500 || reply.code >= 600) return reply;
  const code = atGreeting ? 421 : reply.code - 100;
  const enhanced = reply.enhanced?.replace(/^5\./, '4.');
  return enhanced === undefined ? { code, text: reply.text } : { code, enhanced, text: reply.text };
}

function agrees(
  suggested: StageOutcome['replyCode'],
  action: 'reject' | 'defer',
): suggested is { code: number; enhanced: string } {
  if (suggested === undefined) return false;
  const digit = action === 'reject' ? 5 : 4;
  return Math.floor(suggested.code / 100) === digit && suggested.enhanced.startsWith(`${digit}.`);
}

/**
 * The SMTP reply for a stage's decision: undefined for accept and quarantine (the default positive
 * reply), `550 5.7.1 <reason>` for reject and `451 4.7.1 <reason>` for defer (554 and 421 at the
 * greeting). A check's suggested code is used when its class agrees with the action (not at the
 * greeting, where only 554 and 421 are valid).
 */
export function stageReply(
  outcome: Pick<StageOutcome, 'stage' | 'action' | 'reason' | 'replyCode'>,
  options: ReplyOptions = {},
): Reply | undefined {
  if (outcome.action === 'accept' || outcome.action === 'quarantine') return undefined;
  const atGreeting = options.atGreeting ?? outcome.stage === 'connect';
  const standard = REFUSALS[atGreeting ? 'connect' : 'other'][outcome.action];
  const { code, enhanced } =
    !atGreeting && agrees(outcome.replyCode, outcome.action) ? outcome.replyCode : standard;
  const fallback = outcome.action === 'reject' ? Errors.POLICY_REJECT.smtp[2] : Errors.POLICY_DEFER.smtp[2];
  const reply: Reply = { code, enhanced, text: replyText(outcome.reason, fallback) };
  return options.softBounce ? softBounce(reply, atGreeting) : reply;
}

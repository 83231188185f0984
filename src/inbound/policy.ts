import type { Logger } from '../core/log.js';
import type { Reply } from '../core/reply.js';
import type { CheckResult, Stage } from '../pipeline/check.js';
import type { CompiledCheck } from '../pipeline/config.js';
import { type BudgetedResolverSource, createMessageDns } from '../pipeline/dns-view.js';
import { plainIp } from '../pipeline/ip.js';
import { stageReply } from '../pipeline/reply.js';
import { runStage, type StageContext } from '../pipeline/run-stage.js';
import type { SessionInfo, Transaction } from '../protocol/smtp/types.js';

export interface PolicyOptions {
  checks: readonly CompiledCheck[];
  resolver: BudgetedResolverSource;
  dnsBudget: number;
  softBounce: boolean;
  /**
   * Refuse at the greeting (554/421) when the connect stage refuses. Off: the refusal is delayed to
   * the first RCPT (Postfix's smtpd_delay_reject), so the reply can be a 550 with the reason.
   */
  refuseAtGreeting: boolean;
  logger: Logger;
}

/** The checks' findings for one session and its current transaction. */
export interface PolicyState {
  /** Results of the connect and helo stages (kept across transactions). */
  sessionResults: Map<string, CheckResult>;
  /** Results of the current transaction's mail, rcpt and data stages. */
  results: Map<string, CheckResult>;
  /** A connect/helo refusal waiting for the first RCPT. */
  delayed?: Reply;
  /** A quarantine decided at connect or helo (applies to every transaction of the session). */
  sessionQuarantine?: Quarantine;
  /** A quarantine decided in the current transaction. */
  quarantine?: Quarantine;
  /** The transaction's budgeted DNS view; made when a stage first has checks to run. */
  dns?: ReturnType<typeof createMessageDns>;
}

/** Which check sent the message to the Junk folder, and why. */
export interface Quarantine {
  by: string;
  reason?: string;
}

const STATE_KEY = 'policy';

/** The stage runner of one listener: runs each stage's checks and turns their decision into replies. */
export class ListenerPolicy {
  constructor(private options: PolicyOptions) {}

  /** A reloaded config's checks and soft_bounce, for transactions that start from now on. */
  reconfigure(changes: Pick<PolicyOptions, 'checks' | 'softBounce'>): void {
    this.options = { ...this.options, ...changes };
  }

  get hasChecks(): boolean {
    return this.options.checks.length > 0;
  }

  state(session: SessionInfo): PolicyState {
    let state = session.state[STATE_KEY] as PolicyState | undefined;
    if (!state) {
      state = { sessionResults: new Map(), results: new Map() };
      session.state[STATE_KEY] = state;
    }
    return state;
  }

  /** Starts a new transaction: its own DNS budget and results; session findings carry over. */
  beginTransaction(session: SessionInfo): void {
    const state = this.state(session);
    state.results = new Map();
    // Its own DNS budget: the next stage with checks makes a fresh view (a listener without checks never does).
    delete state.dns;
    delete state.quarantine;
  }

  /** The quarantine that applies to the current transaction, if any. */
  quarantine(session: SessionInfo): Quarantine | undefined {
    const state = this.state(session);
    return state.quarantine ?? state.sessionQuarantine;
  }

  /** All results so far, session stages first, in the order they ran. */
  allResults(session: SessionInfo): Map<string, CheckResult> {
    const state = this.state(session);
    return new Map([...state.sessionResults, ...state.results]);
  }

  async run(
    stage: Stage,
    session: SessionInfo,
    extra: Partial<Pick<StageContext, 'rcpt' | 'message' | 'mailFrom' | 'mailParams'>> & {
      tx?: Transaction;
    } = {},
  ): Promise<Reply | undefined> {
    const state = this.state(session);
    if (!this.options.checks.some((check) => check.stage === stage)) return undefined;
    state.dns ??= createMessageDns(this.options.resolver, this.options.dnsBudget);
    const sessionStage = stage === 'connect' || stage === 'helo';
    const base: StageContext = {
      client: { ip: plainIp(session.remoteAddress), port: session.remotePort },
      session,
      ...(session.helo === undefined ? {} : { helo: session.helo }),
      ...(extra.tx ? { mailFrom: extra.tx.from, mailParams: extra.tx.params, transaction: extra.tx } : {}),
      ...(extra.rcpt === undefined ? {} : { rcpt: extra.rcpt }),
      ...(extra.message === undefined ? {} : { message: extra.message }),
      dns: state.dns,
      earlier: this.allResults(session),
      now: Date.now,
    };
    // A client whose connection is gone (reset, or closed both ways) stops its checks (DNS lookups,
    // virus scans) instead of leaving them to their timeouts. A half-close does not: a pipelining
    // client may send QUIT and shut its side down while it still reads our replies.
    const outcome = await runStage(stage, this.options.checks, base, {
      log: this.options.logger,
      ...(session.signal === undefined ? {} : { signal: session.signal }),
    });
    const into = sessionStage ? state.sessionResults : state.results;
    for (const [name, result] of outcome.results) into.set(name, result);
    for (const decision of outcome.decisions) {
      if (decision.detail) this.options.logger.debug({ session: session.id, ...decision }, 'check detail');
    }
    if (outcome.action === 'quarantine') {
      const decided: Quarantine = {
        by: outcome.decidedBy ?? stage,
        ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
      };
      if (sessionStage) state.sessionQuarantine ??= decided;
      else state.quarantine ??= decided;
      return undefined;
    }
    if (outcome.action === 'accept') return undefined;
    if (sessionStage && !(stage === 'connect' && this.options.refuseAtGreeting)) {
      state.delayed ??= stageReply(outcome, { softBounce: this.options.softBounce, atGreeting: false });
      return undefined;
    }
    return stageReply(outcome, { softBounce: this.options.softBounce });
  }

  /** The delayed connect/helo refusal, applied at RCPT. */
  delayedRefusal(session: SessionInfo): Reply | undefined {
    return this.state(session).delayed;
  }
}

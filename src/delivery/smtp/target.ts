// Outbound SMTP delivery: per recipient domain, the MX hosts in RFC 5321 order (or a smarthost),
// one transaction per destination, under per-destination rate and concurrency limits. prepare
// opens (or reuses) a session and sends the envelope (transaction.ts); commit sends DATA; abort RSET.
import { hostname as osHostname } from 'node:os';
import { describeError } from '../../core/errors.js';
import { errorReply, type Reply, reply } from '../../core/reply.js';
import type { LeasedRecipient } from '../../queue/store/types.js';
import type { DeliveryBatch, PreparedDelivery, RecipientResult } from '../types.js';
import type { DsnEnvelope } from './envelope.js';
import { DestinationSlots, RateLimiter } from './limits.js';
import type { DestinationPolicy, SmtpTarget, SmtpTargetOptions } from './options.js';
import { type Plan, planDestination } from './plan.js';
import { ConnectionPool } from './pool.js';
import { addressesOf } from './route.js';
import {
  openSession,
  type Peer,
  peerKey,
  quoteReply,
  type SessionRefusal,
  type SessionRequest,
  type TlsPolicy,
} from './session.js';
import {
  type GroupOutcome,
  type NextAddress,
  type OpenTransaction,
  SmtpTransactions,
  settleAll,
} from './transaction.js';

const DEFAULTS = {
  port: 25,
  connectTimeoutMs: 30_000,
  commandTimeoutMs: 300_000,
  dataTimeoutMs: 600_000,
  maxPerDestination: 10,
  maxTotal: 100,
  slotWaitMs: 30_000,
  idleTimeoutMs: 5_000,
  maxMessagesPerConnection: 100,
  quitTimeoutMs: 2_000,
};

function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  return at <= 0 || at === address.length - 1 ? undefined : address.slice(at + 1).toLowerCase();
}

class SmtpDeliveryTarget implements SmtpTarget {
  readonly name: string;
  private readonly settings: typeof DEFAULTS;
  private readonly heloName: string;
  private readonly pool: ConnectionPool;
  private readonly slots: DestinationSlots;
  private readonly rate: RateLimiter;
  private readonly transactions: SmtpTransactions;

  constructor(private readonly options: SmtpTargetOptions) {
    this.name = options.name ?? 'smtp';
    this.heloName = options.heloName ?? osHostname();
    this.settings = {
      port: options.port ?? DEFAULTS.port,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      dataTimeoutMs: options.dataTimeoutMs ?? DEFAULTS.dataTimeoutMs,
      maxPerDestination: options.maxPerDestination ?? DEFAULTS.maxPerDestination,
      maxTotal: options.maxTotal ?? DEFAULTS.maxTotal,
      slotWaitMs: options.slotWaitMs ?? DEFAULTS.slotWaitMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      maxMessagesPerConnection: options.maxMessagesPerConnection ?? DEFAULTS.maxMessagesPerConnection,
      quitTimeoutMs: DEFAULTS.quitTimeoutMs,
    };
    this.pool = new ConnectionPool({
      idleTimeoutMs: this.settings.idleTimeoutMs,
      maxMessagesPerConnection: this.settings.maxMessagesPerConnection,
      quitTimeoutMs: this.settings.quitTimeoutMs,
    });
    this.slots = new DestinationSlots(this.settings.maxPerDestination, this.settings.maxTotal);
    this.rate = new RateLimiter(options.clock ?? Date.now);
    this.transactions = new SmtpTransactions({
      pool: this.pool,
      commandTimeoutMs: this.settings.commandTimeoutMs,
      dataTimeoutMs: this.settings.dataTimeoutMs,
      ...(options.xgen === undefined ? {} : { xgen: options.xgen }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  async prepare(batch: DeliveryBatch & DsnEnvelope): Promise<PreparedDelivery> {
    const body = await this.signed(batch);
    if (!Buffer.isBuffer(body)) return settled(settleAll(batch.recipients, 'deferred', body));
    const { groups, invalid } = this.groupByDestination(batch.recipients);
    const settledGroups = await Promise.allSettled(
      [...groups].map(([destination, recipients]) => this.prepareGroup(destination, recipients, batch, body)),
    );
    const outcomes = settledGroups.flatMap((group) => (group.status === 'fulfilled' ? [group.value] : []));
    const open = outcomes.flatMap((outcome) => (outcome.open === undefined ? [] : [outcome.open]));
    const crash = settledGroups.find((group): group is PromiseRejectedResult => group.status === 'rejected');
    if (crash !== undefined) {
      // The queue defers the whole batch; the other destinations' sessions and slots must not leak.
      await Promise.all(open.map((transaction) => this.transactions.abort(transaction)));
      throw crash.reason;
    }
    return {
      results: [...invalid, ...outcomes.flatMap((outcome) => outcome.results)],
      commit: async () =>
        (await Promise.all(open.map((transaction) => this.transactions.commit(transaction, body)))).flat(),
      abort: async () => {
        await Promise.all(open.map((transaction) => this.transactions.abort(transaction)));
      },
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  idleConnections(): number {
    return this.pool.size();
  }

  /** The body after the signing hook; a signing failure defers the message rather than send it unsigned. */
  private async signed(batch: DeliveryBatch): Promise<Buffer | Reply> {
    if (this.options.sign === undefined) return batch.body;
    try {
      return await this.options.sign(batch.body, batch.sender);
    } catch (error) {
      return errorReply('QUEUE_UNAVAILABLE', `Signing failed: ${describeError(error)}`);
    }
  }

  /** Recipients by destination: their domain, or the smarthost for all. */
  private groupByDestination(recipients: readonly LeasedRecipient[]): {
    groups: Map<string, LeasedRecipient[]>;
    invalid: RecipientResult[];
  } {
    const groups = new Map<string, LeasedRecipient[]>();
    const invalid: RecipientResult[] = [];
    for (const rcpt of recipients) {
      const domain = domainOf(rcpt.address);
      if (domain === undefined) {
        invalid.push({ rcptIndex: rcpt.rcptIndex, status: 'failed', reply: errorReply('BAD_ADDRESS') });
        continue;
      }
      const destination = this.options.smarthost?.host.toLowerCase() ?? domain;
      groups.set(destination, [...(groups.get(destination) ?? []), rcpt]);
    }
    return { groups, invalid };
  }

  private policyFor(destination: string): Omit<DestinationPolicy, 'domain'> {
    const policies = this.options.policies ?? [];
    const exact = policies.find((policy) => policy.domain.toLowerCase() === destination);
    const parent = policies.find(
      (policy) => policy.domain.startsWith('.') && destination.endsWith(policy.domain.toLowerCase()),
    );
    return exact ?? parent ?? {};
  }

  /** Rate and concurrency limits, then the transaction; the slot is held until commit or abort. */
  private async prepareGroup(
    destination: string,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<{ results: RecipientResult[]; open?: OpenTransaction }> {
    const policy = this.policyFor(destination);
    if (!this.rate.take(destination, policy.ratePerMinute ?? this.options.ratePerMinute ?? 0)) {
      return {
        results: settleAll(recipients, 'deferred', reply(451, '4.7.0', `rate limit for ${destination}`)),
      };
    }
    const release = await this.slots.acquire(destination, this.settings.slotWaitMs);
    if (release === undefined) {
      const answer = reply(451, '4.7.0', `concurrency limit for ${destination}`);
      return { results: settleAll(recipients, 'deferred', answer) };
    }
    let outcome: GroupOutcome;
    try {
      outcome = await this.deliverGroup(destination, recipients, batch, body, policy.tls ?? this.options.tls);
    } catch (error) {
      release();
      throw error;
    }
    if (outcome.open === undefined) {
      release();
      return { results: outcome.results };
    }
    return { results: outcome.results, open: { ...outcome.open, release } };
  }

  /** Tries the hosts in order until one takes the transaction; all failing defers the recipients. */
  private async deliverGroup(
    destination: string,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
    tls: TlsPolicy | undefined,
  ): Promise<GroupOutcome> {
    const plan = await planDestination(destination, tls, { ...this.options, port: this.settings.port });
    if ('status' in plan) return { results: settleAll(recipients, plan.status, plan.reply) };
    let problem = reply(451, '4.4.4', `No mail exchanger for ${destination} could be reached`);
    for (const host of plan.hosts) {
      const addresses =
        host.addresses === undefined
          ? await addressesOf(host.name, this.options.resolver)
          : { list: host.addresses };
      if ('error' in addresses) {
        problem = reply(451, '4.4.3', `DNS lookup for ${host.name} failed: ${addresses.error}`);
        continue;
      }
      for (const address of addresses.list) {
        const request = this.sessionRequest(plan, host.name, address);
        const outcome = await this.tryAddress(request, recipients, batch, body);
        if ('results' in outcome) return outcome;
        problem = outcome.reply;
        this.options.logger?.info({ destination, reply: quoteReply(problem) }, 'smtp: trying the next host');
      }
    }
    return { results: settleAll(recipients, 'deferred', problem) };
  }

  private sessionRequest(plan: Plan, hostName: string, address: string): SessionRequest {
    const request: SessionRequest = {
      hostName,
      address,
      port: plan.port,
      heloName: this.heloName,
      tls: plan.tls,
      implicitTls: plan.implicitTls,
      timeouts: { connectMs: this.settings.connectTimeoutMs, commandMs: this.settings.commandTimeoutMs },
    };
    if (this.options.localAddress !== undefined) request.localAddress = this.options.localAddress;
    if (this.options.tlsCa !== undefined) request.ca = this.options.tlsCa;
    if (plan.credentials !== undefined) request.credentials = plan.credentials;
    return request;
  }

  /** A new session (plaintext when TLS broke under 'may'), or why there is none. */
  private async openPeer(request: SessionRequest): Promise<Peer | SessionRefusal> {
    const session = await openSession(request);
    if (!('tlsFailed' in session && session.tlsFailed === true)) return session;
    // RFC 7435: opportunistic TLS that fails falls back to cleartext rather than not delivering.
    const plain = await openSession({ ...request, tls: 'none' });
    if ('client' in plain) plain.key = peerKey(request);
    return plain;
  }

  /**
   * One address: a session, then MAIL and the RCPTs; a reply when the next address should be
   * tried. A pooled session is used without a probe (an RSET per message cost a round trip);
   * when it turns out to have died while idle, one new connection is opened at once. Nothing has
   * been sent through it, so the retry cannot duplicate anything.
   */
  private async tryAddress(
    request: SessionRequest,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<GroupOutcome | NextAddress> {
    const pooled = this.pool.take(peerKey(request));
    if (pooled !== undefined) {
      const outcome = await this.transactions.run(pooled, recipients, batch, body);
      if (!('sessionLost' in outcome && outcome.sessionLost === true)) return outcome;
      this.options.logger?.info({ host: pooled.label }, 'smtp: pooled session was closed, reconnecting');
    }
    const peer = await this.openPeer(request);
    if (!('client' in peer)) return peer;
    const outcome = await this.transactions.run(peer, recipients, batch, body);
    return 'results' in outcome ? outcome : { reply: outcome.reply };
  }
}

function settled(results: RecipientResult[]): PreparedDelivery {
  return { results, commit: async () => [], abort: async () => undefined };
}

/** The outbound SMTP delivery target (see SmtpTargetOptions). */
export function createSmtpTarget(options: SmtpTargetOptions): SmtpTarget {
  return new SmtpDeliveryTarget(options);
}

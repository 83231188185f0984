// Outbound SMTP delivery: per recipient domain, the MX hosts in RFC 5321 order (or a smarthost),
// one transaction per destination. prepare opens (or reuses) the session and sends MAIL and the
// RCPTs, pipelined when the peer offers it, so each recipient has its own answer before anything
// is sent; commit sends DATA; abort sends RSET.
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { errorReply, type Reply, reply } from '../../core/reply.js';
import type { Resolver } from '../../dns/types.js';
import type { LeasedRecipient } from '../../queue/store/types.js';
import type { DeliveryBatch, DeliveryTarget, PreparedDelivery, RecipientResult } from '../types.js';
import { SmtpConnectionError } from './client.js';
import {
  type DsnEnvelope,
  mailCommand,
  needsRelayedNotice,
  passesNoticeOn,
  rcptCommand,
} from './envelope.js';
import { DestinationSlots, RateLimiter } from './limits.js';
import { ConnectionPool } from './pool.js';
import { addressesOf, type RouteHost, routeFor } from './route.js';
import {
  openSession,
  type Peer,
  peerKey,
  quoteReply,
  type SessionRefusal,
  type SessionRequest,
  type TlsPolicy,
} from './session.js';

/** Relay everything through one host (small providers), with AUTH when credentials are given. */
export interface SmarthostOptions {
  host: string;
  port: number;
  /** 'starttls' insists on STARTTLS; 'implicit' is TLS from the first byte (465). */
  tls: 'starttls' | 'implicit' | 'none';
  username?: string;
  password?: string;
  /** Check the smarthost's certificate against tlsCa (or Node's roots). Default false. */
  verify?: boolean;
}

/** Settings for one destination domain: `domain` matches exactly, `.domain` matches its subdomains. */
export interface DestinationPolicy {
  domain: string;
  tls?: TlsPolicy;
  /** Messages per minute to this destination; overrides ratePerMinute. */
  ratePerMinute?: number;
}

export interface SmtpTargetOptions {
  resolver: Resolver;
  /** Our name in EHLO; default the host name. */
  heloName?: string;
  /** Port of the MX hosts (25; tests and the fake internet use others). */
  port?: number;
  /** Source address of outgoing connections. */
  localAddress?: string;
  connectTimeoutMs?: number;
  /** Wait for each reply before DATA's final dot (RFC 5321 4.5.3.2 suggests 5 minutes). */
  commandTimeoutMs?: number;
  /** Wait for the reply to the final dot (RFC 5321: 10 minutes). */
  dataTimeoutMs?: number;
  /** Deliveries at once to one destination, and in total. */
  maxPerDestination?: number;
  maxTotal?: number;
  /** How long a delivery waits for a free slot before its recipients are deferred. */
  slotWaitMs?: number;
  /** Messages per minute per destination; 0 = unlimited. */
  ratePerMinute?: number;
  /** Idle connections are kept this long for the next message; 0 = close after each. */
  idleTimeoutMs?: number;
  maxMessagesPerConnection?: number;
  /** TLS policy where no destination policy says otherwise (default 'may'). */
  tls?: TlsPolicy;
  policies?: DestinationPolicy[];
  /** Trusted CAs for policy 'verify' (default: Node's roots). */
  tlsCa?: ConnectionOptions['ca'];
  smarthost?: SmarthostOptions;
  /** Arguments of our XGEN command ("<zone> <epoch> <cookie>"), sent when the peer offers XGEN. */
  xgen?: () => string | undefined;
  /** Applied once per message before sending (DKIM, server signature). */
  sign?: (body: Buffer, sender: string) => Promise<Buffer> | Buffer;
  logger?: Pick<Logger, 'info' | 'warn'>;
  clock?: () => number;
  /** Source of randomness for the order of equal-preference MX hosts. */
  random?: () => number;
  /** Target name in the queue; default 'smtp'. */
  name?: string;
}

/** A delivery target that also owns idle connections, closed at shutdown. */
export interface SmtpTarget extends DeliveryTarget {
  /** QUITs idle connections. In-flight deliveries are not interrupted. */
  close(): Promise<void>;
  /** Idle pooled connections now. */
  idleConnections(): number;
}

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

/** How to reach a destination: hosts in order and how to talk to them. */
interface Plan {
  hosts: RouteHost[];
  port: number;
  tls: TlsPolicy;
  implicitTls: boolean;
  credentials?: { username: string; password: string };
}

/** A transaction past its RCPTs, waiting for commit (DATA) or abort (RSET). */
interface OpenTransaction {
  peer: Peer;
  accepted: LeasedRecipient[];
  release: () => void;
}

/** Why an address gave no transaction; `sessionLost` = a reused session had died, try a new one. */
interface NextAddress {
  reply: Reply;
  sessionLost?: boolean;
}

/** The replies to the envelope commands; `rcpts` is empty when MAIL was refused. */
interface EnvelopeReplies {
  xgen?: Reply;
  mail: Reply;
  rcpts: Reply[];
}

/** The final word for a destination that cannot be tried (null MX, no such domain, DNS down). */
interface Unreachable {
  status: 'failed' | 'deferred';
  reply: Reply;
}

interface GroupOutcome {
  results: RecipientResult[];
  open?: Omit<OpenTransaction, 'release'>;
}

function settleAll(recipients: readonly LeasedRecipient[], status: RecipientResult['status'], answer: Reply) {
  return recipients.map((rcpt): RecipientResult => ({ rcptIndex: rcpt.rcptIndex, status, reply: answer }));
}

/** A result carrying the remote server's reply and its name (Remote-MTA of a DSN, RFC 3464 2.3.5). */
function remoteResult(
  peer: Peer,
  rcpt: LeasedRecipient,
  status: RecipientResult['status'],
  answer: Reply,
): RecipientResult {
  return { rcptIndex: rcpt.rcptIndex, status, reply: answer, remoteMta: peer.hostName };
}

/** 2xx delivered, 5xx failed, anything else deferred. */
function statusOf(answer: Reply): RecipientResult['status'] {
  if (answer.code >= 200 && answer.code < 300) return 'delivered';
  return answer.code >= 500 && answer.code < 600 ? 'failed' : 'deferred';
}

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
      await Promise.all(open.map((transaction) => this.abort(transaction)));
      throw crash.reason;
    }
    return {
      results: [...invalid, ...outcomes.flatMap((outcome) => outcome.results)],
      commit: async () =>
        (await Promise.all(open.map((transaction) => this.commit(transaction, body)))).flat(),
      abort: async () => {
        await Promise.all(open.map((transaction) => this.abort(transaction)));
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

  /** How to reach a destination, or the final answer when it cannot be reached. */
  private async plan(destination: string, tls: TlsPolicy | undefined): Promise<Plan | Unreachable> {
    const smarthost = this.options.smarthost;
    if (smarthost !== undefined) {
      const credentials =
        smarthost.username === undefined
          ? undefined
          : { username: smarthost.username, password: smarthost.password ?? '' };
      const policy: TlsPolicy =
        smarthost.tls === 'none' ? 'none' : smarthost.verify === true ? 'verify' : 'required';
      const host: RouteHost = { name: smarthost.host, preference: 0 };
      if (isIP(smarthost.host) !== 0) host.addresses = [smarthost.host];
      return {
        hosts: [host],
        port: smarthost.port,
        tls: policy,
        implicitTls: smarthost.tls === 'implicit',
        credentials,
      };
    }
    const route = await routeFor(destination, this.options.resolver, this.options.random);
    switch (route.kind) {
      case 'hosts':
        return { hosts: route.hosts, port: this.settings.port, tls: tls ?? 'may', implicitTls: false };
      case 'null-mx':
        return {
          status: 'failed',
          reply: reply(556, '5.1.10', `Domain ${destination} accepts no mail (null MX)`),
        };
      case 'no-host':
        return {
          status: 'failed',
          reply: reply(550, '5.1.2', `Host or domain name not found: ${route.detail}`),
        };
      case 'dns-error':
        return { status: 'deferred', reply: reply(451, '4.4.3', `DNS lookup failed: ${route.detail}`) };
    }
  }

  /** Tries the hosts in order until one takes the transaction; all failing defers the recipients. */
  private async deliverGroup(
    destination: string,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
    tls: TlsPolicy | undefined,
  ): Promise<GroupOutcome> {
    const plan = await this.plan(destination, tls);
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
      const outcome = await this.transact(pooled, recipients, batch, body);
      if (!('sessionLost' in outcome && outcome.sessionLost === true)) return outcome;
      this.options.logger?.info({ host: pooled.label }, 'smtp: pooled session was closed, reconnecting');
    }
    const peer = await this.openPeer(request);
    if (!('client' in peer)) return peer;
    const outcome = await this.transact(peer, recipients, batch, body);
    return 'results' in outcome ? outcome : { reply: outcome.reply };
  }

  /** The envelope on one session; a broken connection closes it and asks for the next address. */
  private async transact(
    peer: Peer,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<GroupOutcome | NextAddress> {
    try {
      return await this.startTransaction(peer, recipients, batch, body);
    } catch (error) {
      peer.client.close();
      if (!(error instanceof SmtpConnectionError)) throw error;
      return {
        reply: reply(451, '4.4.2', `${peer.label}: ${error.message}`),
        sessionLost: error.kind === 'closed',
      };
    }
  }

  private async startTransaction(
    peer: Peer,
    recipients: LeasedRecipient[],
    batch: DeliveryBatch & DsnEnvelope,
    body: Buffer,
  ): Promise<GroupOutcome | NextAddress> {
    const addresses = recipients.map((rcpt) => rcpt.address);
    const dsn: DsnEnvelope = { envid: batch.envid, ret: batch.ret };
    const replies = await this.sendEnvelope(
      peer,
      mailCommand(batch.sender, body, addresses, dsn, peer.extensions),
      recipients.map((rcpt) => rcptCommand(rcpt, peer.extensions)),
    );
    if (replies.xgen !== undefined && replies.xgen.code >= 400) {
      this.options.logger?.warn({ host: peer.label, reply: quoteReply(replies.xgen) }, 'smtp: XGEN refused');
    }
    const mail = replies.mail;
    if (mail.code === 421) {
      // The peer is closing the session (RFC 5321 3.8): on a pooled one, most likely its idle timeout.
      peer.client.close();
      return {
        reply: reply(451, mail.enhanced ?? '4.4.2', `${peer.label}: ${quoteReply(mail)}`),
        sessionLost: true,
      };
    }
    if (statusOf(mail) === 'deferred') {
      this.pool.give(peer);
      return {
        reply: reply(451, mail.enhanced ?? '4.0.0', `${peer.label} deferred MAIL: ${quoteReply(mail)}`),
      };
    }
    if (statusOf(mail) === 'failed') {
      this.pool.give(peer);
      return { results: recipients.map((rcpt) => remoteResult(peer, rcpt, 'failed', mail)) };
    }
    const results: RecipientResult[] = [];
    const accepted: LeasedRecipient[] = [];
    recipients.forEach((rcpt, index) => {
      const answer = replies.rcpts[index] ?? reply(451, '4.4.2', `${peer.label} gave no reply to RCPT`);
      const status = statusOf(answer);
      if (status === 'delivered') accepted.push(rcpt);
      else results.push(remoteResult(peer, rcpt, status, answer));
    });
    if (accepted.length > 0) return { results, open: { peer, accepted } };
    await this.reset(peer);
    return { results };
  }

  /**
   * XGEN (when the peer offers it and we have a cookie), MAIL and the RCPTs. With PIPELINING
   * (RFC 2920) they go in one write and the replies are read in order: one round trip for the
   * envelope instead of two and more. DATA is not in the group: it belongs to commit.
   */
  private async sendEnvelope(peer: Peer, mail: string, rcpts: string[]): Promise<EnvelopeReplies> {
    const timeout = this.settings.commandTimeoutMs;
    const xgenArgs =
      this.options.xgen !== undefined && peer.extensions.has('XGEN') ? this.options.xgen() : undefined;
    const xgen = xgenArgs === undefined ? [] : [`XGEN ${xgenArgs}`];
    if (peer.extensions.has('PIPELINING')) {
      const replies = await peer.client.pipeline([...xgen, mail, ...rcpts], timeout);
      const [first, ...rest] = replies;
      const [mailReply, ...rcptReplies] = xgen.length > 0 ? rest : replies;
      if (mailReply === undefined) throw new SmtpConnectionError('protocol', 'no reply to MAIL');
      const envelope: EnvelopeReplies = {
        mail: mailReply,
        rcpts: statusOf(mailReply) === 'delivered' ? rcptReplies : [],
      };
      if (xgen.length > 0 && first !== undefined) envelope.xgen = first;
      return envelope;
    }
    const xgenReply = xgen[0] === undefined ? undefined : await peer.client.command(xgen[0], timeout);
    const mailReply = await peer.client.command(mail, timeout);
    const rcptReplies: Reply[] = [];
    if (statusOf(mailReply) === 'delivered') {
      for (const line of rcpts) rcptReplies.push(await peer.client.command(line, timeout));
    }
    return xgenReply === undefined
      ? { mail: mailReply, rcpts: rcptReplies }
      : { xgen: xgenReply, mail: mailReply, rcpts: rcptReplies };
  }

  /** DATA and the body; the final reply applies to every accepted recipient. */
  private async commit(transaction: OpenTransaction, body: Buffer): Promise<RecipientResult[]> {
    const { peer, accepted } = transaction;
    try {
      const data = await peer.client.command('DATA', this.settings.commandTimeoutMs);
      if (data.code !== 354) {
        await this.reset(peer);
        const status = statusOf(data) === 'failed' ? 'failed' : 'deferred';
        return accepted.map((rcpt) => remoteResult(peer, rcpt, status, data));
      }
      const final = await peer.client.sendBody(body, this.settings.dataTimeoutMs);
      peer.messages++;
      this.pool.give(peer);
      return accepted.map((rcpt) => {
        const result = remoteResult(peer, rcpt, statusOf(final), final);
        if (result.status !== 'delivered') return result;
        if (needsRelayedNotice(rcpt, peer.extensions)) result.relayed = true;
        if (passesNoticeOn(rcpt, peer.extensions)) result.passedOn = true;
        return result;
      });
    } catch (error) {
      peer.client.close();
      if (!(error instanceof SmtpConnectionError)) throw error;
      // The peer may have taken the message before the connection broke: a retry may duplicate it,
      // which RFC 5321 6.1 prefers to losing it.
      return settleAll(
        accepted,
        'deferred',
        reply(451, '4.4.2', `${peer.label} during DATA: ${error.message}`),
      );
    } finally {
      transaction.release();
    }
  }

  private async abort(transaction: OpenTransaction): Promise<void> {
    try {
      await this.reset(transaction.peer);
    } finally {
      transaction.release();
    }
  }

  /** RSET ends the transaction; the session goes back to the pool if it answered. */
  private async reset(peer: Peer): Promise<void> {
    const answer = await peer.client.command('RSET', this.settings.commandTimeoutMs).catch(() => undefined);
    if (answer?.code === 250) this.pool.give(peer);
    else peer.client.close();
  }
}

function settled(results: RecipientResult[]): PreparedDelivery {
  return { results, commit: async () => [], abort: async () => undefined };
}

/** The outbound SMTP delivery target (see SmtpTargetOptions). */
export function createSmtpTarget(options: SmtpTargetOptions): SmtpTarget {
  return new SmtpDeliveryTarget(options);
}

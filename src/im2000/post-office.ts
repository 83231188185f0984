// One IM2000 post office: the sender side (store, notice, retry, fetch, receipts, status, recall)
// and the receiver side (verify notices, policy, pull, Maildir, receipt). docs/protocols/im2000.md.
import { type KeyObject, timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { domainOf } from '../core/address.js';
import { describeError, OutpostError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { rfc5322Date } from '../core/time.js';
import { createMaildirTarget, folderPath } from '../delivery/maildir/index.js';
import type { DeliveryTarget } from '../delivery/types.js';
import { normalizeName } from '../dns/names.js';
import type { Resolver } from '../dns/types.js';
import { signObject, verifyObject } from './canonical.js';
import { addressOf, domainKeys, findPostOffices } from './discovery.js';
import { errorCodeOf, PeerClient } from './http-client.js';
import {
  DEFAULT_OUTBOX_LIMITS,
  messageStatus,
  type OutboxLimits,
  recallMessage,
  sha256Base64,
  storeOutgoing,
} from './outbox.js';
import type { NoticePolicy } from './policy.js';
import {
  type MessageStatus,
  type Notice,
  OPEN_STATUSES,
  type OutgoingMessage,
  type Receipt,
  type RecipientStatus,
} from './protocol.js';
import { IM2000_DB_FILE, Im2000Store } from './store.js';

export interface PostOfficeOptions {
  /** im2000.db lives here. */
  dataDir: string;
  /** Root of the local Maildirs (<root>/<domain>/<local>). */
  mailRoot: string;
  /** The domains whose users send and receive here. */
  domains: string[];
  /** Our published SRV target name, e.g. po.alice.example. */
  postOfficeHost: string;
  /** Base of our fetch URLs, e.g. https://po.alice.example:8443 (host and port as in the SRV record). */
  publicBaseUrl: string;
  /** The Ed25519 key whose public half is in `_im2000key.<domain>` of every local domain. */
  signingKey: KeyObject;
  dns: Resolver;
  /** Whom we pull from; default: accept every correctly signed notice from the right host. */
  policy?: NoticePolicy;
  /** Mail to domains without a post office; without it such recipients are `refused`. */
  smtpFallback?: (message: OutgoingMessage) => Promise<void>;
  /** Extra CA certificates (PEM) trusted for HTTPS to other post offices. */
  tlsCa?: string | Buffer;
  /** Plain http:// between post offices, both ways (benchmarks, a TLS-terminating proxy); default https. */
  plainHttp?: boolean;
  /** Per-sender storage quota in bytes (default 100 MiB). */
  quotaBytes?: number;
  /** How long a message waits for receipts (default 7 days). */
  expiryMs?: number;
  /** Waits before notice attempt n; the last repeats (default 0, 1m, 5m, 15m, 1h, 4h). */
  retrySchedule?: number[];
  /** How often the notice loop looks for due work (default 1 s). */
  pollIntervalMs?: number;
  /** Per HTTP request to another post office (default 10 s). */
  requestTimeoutMs?: number;
  /** Largest message we store or pull (default 25 MiB). */
  maxMessageBytes?: number;
  logger?: Logger;
  now?: () => number;
}

const DEFAULTS = {
  ...DEFAULT_OUTBOX_LIMITS,
  retrySchedule: [0, 60_000, 300_000, 900_000, 3_600_000, 14_400_000],
  pollIntervalMs: 1000,
  requestTimeoutMs: 10_000,
};

/** Notices sent concurrently by one pass of the loop. */
const NOTICE_BATCH = 64;

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class PostOffice {
  readonly store: Im2000Store;
  private readonly options: PostOfficeOptions;
  private readonly settings: typeof DEFAULTS;
  private readonly limits: OutboxLimits;
  private readonly domains: Set<string>;
  private readonly client: PeerClient;
  private readonly maildir: DeliveryTarget;
  private readonly now: () => number;
  /** Notices in flight (sender side) and pulls in flight (receiver side), so none runs twice. */
  private readonly noticing = new Set<string>();
  private readonly pulling = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private closed = false;

  constructor(options: PostOfficeOptions) {
    this.options = options;
    this.settings = {
      quotaBytes: options.quotaBytes ?? DEFAULTS.quotaBytes,
      expiryMs: options.expiryMs ?? DEFAULTS.expiryMs,
      retrySchedule: options.retrySchedule ?? DEFAULTS.retrySchedule,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
    };
    if (this.settings.retrySchedule.length === 0) throw new Error('im2000: retrySchedule must not be empty');
    this.domains = new Set(options.domains.map(normalizeName));
    this.limits = { ...this.settings, domains: options.domains };
    this.store = new Im2000Store(path.join(options.dataDir, IM2000_DB_FILE));
    this.client = new PeerClient(options.tlsCa);
    this.maildir = createMaildirTarget({
      root: options.mailRoot,
      hostname: options.postOfficeHost,
      name: 'im2000',
    });
    this.now = options.now ?? Date.now;
  }

  // ---- sender side -------------------------------------------------------------------------

  /**
   * Stores a message of a local sender under its quota and starts noticing its recipients.
   * Throws BAD_ADDRESS (sender not local, recipient malformed), MESSAGE_TOO_BIG, IM2000_QUOTA_EXCEEDED.
   */
  async send(outgoing: OutgoingMessage): Promise<{ id: string }> {
    const id = storeOutgoing(this.store, outgoing, this.limits, this.now());
    this.options.logger?.info(
      { im2000: id, from: outgoing.from, to: outgoing.to, size: outgoing.message.length },
      'im2000 message stored',
    );
    this.kick();
    return { id };
  }

  status(id: string): MessageStatus {
    return messageStatus(this.store, id);
  }

  recall(id: string): MessageStatus {
    const status = recallMessage(this.store, id);
    this.options.logger?.info({ im2000: id }, 'im2000 message recalled');
    return status;
  }

  /** A fetch by a recipient's post office: the message bytes, or the catalogue error why not. */
  fetch(id: string, token: string | undefined): Buffer {
    const found = this.store.forFetch(id);
    if (found === undefined) throw new OutpostError('IM2000_UNKNOWN_MESSAGE', id);
    const given = token ?? '';
    const recipient = found.recipients.find((candidate) => sameToken(candidate.token, given));
    if (recipient === undefined) throw new OutpostError('IM2000_BAD_TOKEN');
    if (recipient.status === 'recalled') throw new OutpostError('IM2000_RECALLED');
    if (recipient.status === 'expired' || found.expiresAt <= this.now())
      throw new OutpostError('IM2000_EXPIRED');
    if (recipient.status === 'receipted') throw new OutpostError('IM2000_TOKEN_USED');
    if (!OPEN_STATUSES.includes(recipient.status)) throw new OutpostError('IM2000_BAD_TOKEN');
    this.store.transition(id, recipient.address, ['pending', 'notified'], 'fetched', { at: this.now() });
    return found.body;
  }

  /** A receipt from a recipient's post office: verified with the recipient domain's key. */
  async acceptReceipt(receipt: Receipt): Promise<void> {
    const message = this.store.status(receipt.id);
    const recipient = message?.recipients.find((r) => r.address === receipt.to);
    if (message === undefined || recipient === undefined) {
      throw new OutpostError('IM2000_UNKNOWN_MESSAGE', `${receipt.id} for ${receipt.to}`);
    }
    const keys = await domainKeys(this.options.dns, domainOf(receipt.to));
    if (!verifyObject(receipt, keys))
      throw new OutpostError('IM2000_BAD_SIGNATURE', `receipt for ${receipt.to}`);
    if (receipt.sha256 !== message.sha256) throw new OutpostError('BAD_REQUEST', 'receipt sha256 differs');
    const moved = this.store.transition(receipt.id, receipt.to, OPEN_STATUSES, 'receipted', {
      at: this.now(),
    });
    if (moved) this.options.logger?.info({ im2000: receipt.id, to: receipt.to }, 'im2000 receipt');
  }

  /** Starts the notice loop (retries, expiry). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.kick(), this.settings.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Runs passes of the loop now, one after the other while they find work, unless one is running. */
  kick(): void {
    if (this.closed || this.pass) return;
    this.pass = this.runDue()
      .catch((error: unknown) => {
        this.options.logger?.error({ err: describeError(error) }, 'im2000 notice pass failed');
        return 0;
      })
      .then((sent) => {
        this.pass = undefined;
        if (sent > 0) this.kick();
      });
  }

  /** One pass: expire old messages, send due notices; resolves with how many, once they are answered. */
  async runDue(): Promise<number> {
    const now = this.now();
    this.store.expire(now);
    const due = this.store.due(now, NOTICE_BATCH).filter((d) => !this.noticing.has(`${d.id} ${d.address}`));
    await Promise.all(due.map((notice) => this.noticeOne(notice)));
    return due.length;
  }

  private async noticeOne(due: ReturnType<Im2000Store['due']>[number]): Promise<void> {
    const key = `${due.id} ${due.address}`;
    this.noticing.add(key);
    try {
      const outcome = await this.deliverNotice(due);
      const next = this.now() + this.retryDelay(due.attempts + 1);
      this.store.attempted(due.id, due.address, next, outcome.error);
      if (outcome.status) {
        this.store.transition(due.id, due.address, outcome.from ?? OPEN_STATUSES, outcome.status, {
          at: this.now(),
          ...(outcome.error ? { lastError: outcome.error } : {}),
        });
      }
    } finally {
      this.noticing.delete(key);
    }
  }

  private retryDelay(attempt: number): number {
    const schedule = this.settings.retrySchedule;
    return schedule[Math.min(attempt, schedule.length - 1)] ?? 0;
  }

  /** One notice to one recipient's post office; what it did to the recipient's status. */
  private async deliverNotice(
    due: ReturnType<Im2000Store['due']>[number],
  ): Promise<{ status?: RecipientStatus; from?: readonly RecipientStatus[]; error?: string }> {
    const domain = domainOf(due.address);
    let offices: Awaited<ReturnType<typeof findPostOffices>>;
    try {
      offices = await findPostOffices(this.options.dns, domain);
    } catch (error) {
      return { error: `DNS: ${describeError(error)}` };
    }
    if (offices.length === 0) return this.handOverToSmtp(due);
    const notice = this.signedNotice(due);
    let lastError = 'no post office answered';
    for (const office of offices) {
      try {
        const ip = await addressOf(this.options.dns, office.host);
        if (ip === undefined) {
          lastError = `${office.host} has no address`;
          continue;
        }
        const scheme = this.options.plainHttp ? 'http' : 'https';
        const url = new URL(`${scheme}://${office.host}:${office.port}/im2000/notice`);
        const response = await this.client.request({
          method: 'POST',
          url,
          ip,
          json: notice,
          timeoutMs: this.settings.requestTimeoutMs,
          maxBytes: 64 * 1024,
        });
        if (response.status === 200 || response.status === 202) {
          return { status: 'notified', from: ['pending'] };
        }
        const code = errorCodeOf(response.body) ?? `HTTP ${response.status}`;
        if (response.status >= 400 && response.status < 500) {
          this.options.logger?.info({ im2000: due.id, to: due.address, code }, 'im2000 notice refused');
          return { status: 'refused', error: code };
        }
        lastError = `${office.host}: ${code}`;
      } catch (error) {
        lastError = `${office.host}: ${describeError(error)}`;
      }
    }
    return { error: lastError };
  }

  private async handOverToSmtp(
    due: ReturnType<Im2000Store['due']>[number],
  ): Promise<{ status?: RecipientStatus; error?: string }> {
    const fallback = this.options.smtpFallback;
    if (fallback === undefined) return { status: 'refused', error: 'no post office and no SMTP gateway' };
    const body = this.store.forFetch(due.id)?.body;
    if (body === undefined) return { error: 'message vanished' };
    try {
      await fallback({ from: due.sender, to: [due.address], message: body });
      return { status: 'smtp' };
    } catch (error) {
      return { error: `SMTP gateway: ${describeError(error)}` };
    }
  }

  private signedNotice(due: ReturnType<Im2000Store['due']>[number]): Notice {
    const base = this.options.publicBaseUrl.replace(/\/+$/, '');
    return signObject(
      {
        v: 'im1' as const,
        type: 'notice' as const,
        id: due.id,
        from: due.sender,
        to: due.address,
        size: due.size,
        sha256: due.sha256,
        subject: due.subject,
        createdAt: due.createdAt,
        expiresAt: due.expiresAt,
        fetchUrl: `${base}/im2000/messages/${due.id}?token=${due.token}`,
      },
      this.options.signingKey,
    );
  }

  // ---- receiver side -----------------------------------------------------------------------

  /**
   * A notice for one of our users: verified, checked against the sender domain's post office and
   * the policy, then pulled in the background. 'stored' when we have the message already.
   */
  async acceptNotice(notice: Notice): Promise<'accepted' | 'stored'> {
    const recipientDomain = domainOf(notice.to);
    if (!this.domains.has(recipientDomain) || !(await this.mailboxExists(notice.to))) {
      throw new OutpostError('NO_SUCH_USER', notice.to);
    }
    const senderDomain = domainOf(notice.from);
    const keys = await domainKeys(this.options.dns, senderDomain);
    if (!verifyObject(notice, keys))
      throw new OutpostError('IM2000_BAD_SIGNATURE', `notice from ${notice.from}`);
    const fetchUrl = await this.checkFetchUrl(notice, senderDomain);
    const ip = await addressOf(this.options.dns, fetchUrl.hostname);
    if (ip === undefined) throw new OutpostError('POLICY_DEFER', `${fetchUrl.hostname} has no address`);
    const verdict = await this.decide({ host: normalizeName(fetchUrl.hostname), ip, domain: senderDomain });
    if (verdict === 'refuse') throw new OutpostError('POLICY_REJECT', `notices from ${senderDomain} refused`);
    const key = `${senderDomain} ${notice.id} ${notice.to}`;
    if (this.store.wasReceived(senderDomain, notice.id, notice.to)) {
      this.background(key, () => this.sendReceipt(notice, fetchUrl, ip));
      return 'stored';
    }
    this.background(key, () => this.pull(notice, fetchUrl, ip, senderDomain));
    return 'accepted';
  }

  private async decide(sender: { host: string; ip: string; domain: string }): Promise<'accept' | 'refuse'> {
    if (this.options.policy === undefined) return 'accept';
    try {
      return await this.options.policy(sender);
    } catch (error) {
      throw new OutpostError('POLICY_DEFER', describeError(error));
    }
  }

  private async mailboxExists(address: string): Promise<boolean> {
    const target = folderPath(this.options.mailRoot, address);
    if (target === undefined) return false;
    return stat(target.mailbox).then(
      () => true,
      () => false,
    );
  }

  /** The fetch URL when it points at a post office the sender's domain publishes; else IM2000_WRONG_HOST. */
  private async checkFetchUrl(notice: Notice, senderDomain: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(notice.fetchUrl);
    } catch {
      throw new OutpostError('IM2000_WRONG_HOST', 'fetch URL is not a URL');
    }
    const schemeOk = url.protocol === (this.options.plainHttp ? 'http:' : 'https:');
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const offices = await findPostOffices(this.options.dns, senderDomain);
    const host = normalizeName(url.hostname);
    const published = offices.some((office) => office.host === host && office.port === port);
    if (!schemeOk || !published || url.pathname !== `/im2000/messages/${notice.id}` || url.username !== '') {
      throw new OutpostError('IM2000_WRONG_HOST', `${url.protocol}//${url.host} for ${senderDomain}`);
    }
    return url;
  }

  /** Runs one pull (or receipt) per notice key at a time; failures are logged, the next notice retries. */
  private background(key: string, work: () => Promise<void>): void {
    if (this.pulling.has(key) || this.closed) return;
    const running = work()
      .catch((error: unknown) =>
        this.options.logger?.warn(
          { key, err: describeError(error) },
          'im2000 pull failed; the next notice retries',
        ),
      )
      .finally(() => this.pulling.delete(key));
    this.pulling.set(key, running);
  }

  private async pull(notice: Notice, fetchUrl: URL, ip: string, senderDomain: string): Promise<void> {
    const response = await this.client.request({
      method: 'GET',
      url: fetchUrl,
      ip,
      timeoutMs: this.settings.requestTimeoutMs,
      maxBytes: Math.min(notice.size, this.settings.maxMessageBytes),
    });
    if (response.status !== 200) {
      throw new Error(`fetch ${notice.id}: ${errorCodeOf(response.body) ?? `HTTP ${response.status}`}`);
    }
    if (response.body.length !== notice.size || sha256Base64(response.body) !== notice.sha256) {
      throw new OutpostError('IM2000_DIGEST_MISMATCH', `${notice.id} from ${fetchUrl.host}`);
    }
    await this.storeInMaildir(notice, fetchUrl.hostname, ip, response.body);
    this.store.markReceived(senderDomain, notice.id, notice.to, this.now());
    this.options.logger?.info(
      { im2000: notice.id, from: notice.from, to: notice.to },
      'im2000 message pulled',
    );
    await this.sendReceipt(notice, fetchUrl, ip);
  }

  private async storeInMaildir(notice: Notice, host: string, ip: string, body: Buffer): Promise<void> {
    const now = this.now();
    const trace = `Received: from ${host} ([${ip}]) by ${this.options.postOfficeHost} with IM2000 id ${notice.id}\r\n\tfor <${notice.to}>; ${rfc5322Date(now)}\r\n`;
    const prepared = await this.maildir.prepare({
      // Derived from the notice, so a repeated pull replaces its copy instead of adding one.
      messageId: `IM${notice.id}`,
      sender: notice.from,
      receivedAt: notice.createdAt,
      body: Buffer.concat([Buffer.from(trace), body]),
      recipients: [
        {
          messageId: `IM${notice.id}`,
          rcptIndex: 0,
          address: notice.to,
          target: 'im2000',
          folder: '',
          status: 'queued',
          attempts: 0,
          nextAttemptAt: now,
          updatedAt: now,
          sender: notice.from,
          receivedAt: notice.createdAt,
          leaseUntil: now,
          recovered: true,
        },
      ],
    });
    const results = [...prepared.results, ...(await prepared.commit())];
    const failed = results.find((result) => result.status !== 'delivered');
    if (failed) throw new Error(`Maildir: ${failed.reply.text}`);
  }

  private async sendReceipt(notice: Notice, fetchUrl: URL, ip: string): Promise<void> {
    const receipt: Receipt = signObject(
      {
        v: 'im1' as const,
        type: 'receipt' as const,
        id: notice.id,
        to: notice.to,
        sha256: notice.sha256,
        receivedAt: this.now(),
      },
      this.options.signingKey,
    );
    const url = new URL('/im2000/receipt', fetchUrl);
    const response = await this.client.request({
      method: 'POST',
      url,
      ip,
      json: receipt,
      timeoutMs: this.settings.requestTimeoutMs,
      maxBytes: 64 * 1024,
    });
    if (response.status !== 200) {
      throw new Error(`receipt ${notice.id}: ${errorCodeOf(response.body) ?? `HTTP ${response.status}`}`);
    }
  }

  /** Stops the loop, waits for notices and pulls in flight, closes connections and the database. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pass;
    await Promise.all(this.pulling.values());
    this.client.close();
    this.store.close();
  }
}

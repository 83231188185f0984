import { createHash, createHmac, randomBytes } from 'node:crypto';
import { domainOf } from '../core/address.js';
import { type Logger, silentLogger } from '../core/log.js';
import { newQueueId } from '../queue/ids.js';
import type { NewMessage, Store } from '../queue/store/types.js';
import { ChallengeDb, type PendingEntry, type WhitelistEntry } from './db.js';
import { type Exemption, exemption } from './exemptions.js';
import { buildChallengeMessage, summarizeHeld } from './message.js';
import {
  type AddressRequest,
  checkTaggedAddress,
  confirmAddress,
  makeUserAddress,
  readConfirmAddress,
  userOfTaggedAddress,
} from './tagged.js';

/** The user setting (store `User.settings`) that turns challenge/response on for a mailbox. */
export const CHALLENGE_SETTING = 'challenge';

export interface ChallengeOptions {
  store: Store;
  /** The challenge database, usually <data>/challenge.db. */
  file: string;
  /** Our host name, for the Message-ID of challenges. */
  hostname: string;
  /** Public base URL of the HTTP server ("https://mail.example.org"); no link in challenges without it. */
  baseUrl?: string;
  /** Challenges sent to one sender per UTC day, over all users. Default 3. */
  dailyLimit?: number;
  /**
   * Challenges sent to all addresses of one sender domain per UTC day. Default 30: a spammer who
   * makes up addresses at a domain cannot turn us into a source of challenges to it.
   */
  domainDailyLimit?: number;
  /** How long a held message waits for its sender, in ms. Default 14 days. */
  holdMs?: number;
  /** Delivery target of a challenge to this address ('smtp' by default; 'maildir' for local senders). */
  targetFor?: (address: string) => string;
  /** Called after a challenge was queued, so delivery starts at once. */
  onQueued?: () => void;
  logger?: Logger;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

export interface DecideInput {
  /** The local mailbox the recipient address belongs to. */
  user: string;
  /** Envelope sender ('' for the null sender). */
  sender: string;
  /** The message's header section (or the whole message: reading stops at the blank line). */
  headers: Buffer | string;
  /** True only for SPF pass or aligned DKIM pass: the sender address is not forged. */
  authenticated: boolean;
  /** The address as given in RCPT TO (may be a tagged address of the user). */
  recipientAddress: string;
}

/** Why a message goes straight through. */
export type DeliverReason = 'not-enabled' | Exemption | 'whitelisted' | 'dated' | 'sender' | 'keyword';

export type ChallengeDecision =
  | { action: 'deliver'; reason: DeliverReason }
  /** Queue the recipient as 'held', then call afterQueued. */
  | { action: 'hold' }
  /** Unknown and not authenticated: a challenge could go to a forged address, so deliver to Junk. */
  | { action: 'junk'; reason: 'unauthenticated' };

/** The held recipients of one user in a queued message. */
export interface HeldRecipient {
  rcptIndex: number;
  user: string;
}

/** What afterQueued did for one user. */
export interface HeldOutcome {
  pendingId: number;
  user: string;
  /** The challenge message queued, or undefined when the sender's daily limit was reached. */
  challenge?: NewMessage;
}

/** A released entry and what it freed. */
export interface Released {
  pendingId: number;
  queueId: string;
  /** Recipient rows moved from 'held' back to 'queued'. */
  recipients: number;
}

export type ConfirmOutcome =
  | { kind: 'released'; user: string; sender: string; released: Released[] }
  /** Confirmed before (the token or reply came twice): nothing to do. */
  | { kind: 'already'; user: string; sender: string }
  /** Not a confirm address of ours, a bad MAC, an unknown or finished entry. */
  | { kind: 'invalid'; reason: string };

const DAY_MS = 86_400_000;

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The whitelist entries that cover a sender: the address, its domain and each parent domain. */
function whitelistCandidates(sender: string): string[] {
  const address = sender.toLowerCase();
  const labels = domainOf(address).split('.');
  return [address, ...labels.map((_, index) => labels.slice(index).join('.'))];
}

/** A whitelist entry as given by a person: an address or a domain ("@example.org" = "example.org"). */
export function normalizeWhitelistEntry(entry: string): string {
  const trimmed = entry.trim().toLowerCase();
  return trimmed.startsWith('@') ? trimmed.slice(1) : trimmed;
}

/**
 * Challenge/response for unknown senders (docs/protocols/challenge.md). The MX asks `decide` per
 * local recipient, queues held recipients with status 'held', then calls `afterQueued`, which
 * records them and sends the challenge. A reply to the confirm address or a click on the link
 * releases the message and whitelists the sender.
 */
export class ChallengeService {
  private readonly db: ChallengeDb;
  private readonly masterKey: Buffer;
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly dailyLimit: number;
  private readonly domainDailyLimit: number;
  readonly holdMs: number;

  constructor(private readonly options: ChallengeOptions) {
    this.db = new ChallengeDb(options.file);
    this.masterKey = Buffer.from(this.db.cryptKey(), 'hex');
    this.store = options.store;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.dailyLimit = options.dailyLimit ?? 3;
    this.domainDailyLimit = options.domainDailyLimit ?? 30;
    this.holdMs = options.holdMs ?? 14 * DAY_MS;
  }

  /** Deliver, hold for a challenge, or deliver to Junk (see ChallengeDecision). */
  async decide(input: DecideInput): Promise<ChallengeDecision> {
    const user = input.user.toLowerCase();
    if (!(await this.isEnabled(user))) return { action: 'deliver', reason: 'not-enabled' };
    const exempt = exemption(input.sender, input.headers);
    if (exempt) return this.deliver(user, input.sender, exempt);
    if (this.db.whitelisted(user, whitelistCandidates(input.sender))) {
      return { action: 'deliver', reason: 'whitelisted' };
    }
    const tag = checkTaggedAddress(this.keyOf(user), {
      user,
      recipientAddress: input.recipientAddress,
      sender: input.sender,
      now: this.now(),
    });
    if (tag.valid) return this.deliver(user, input.sender, tag.tag);
    if (tag.tag !== undefined) {
      this.logger.info(
        { user, from: input.sender, tag: tag.tag, reason: tag.reason },
        'challenge: tagged address not valid',
      );
    }
    if (!input.authenticated) return { action: 'junk', reason: 'unauthenticated' };
    return { action: 'hold' };
  }

  /**
   * Records the held recipients of a queued message (one entry per user) and queues one
   * challenge per user to the sender, unless the sender's daily limit is reached (the message
   * stays held either way; the operator or the user can still release it).
   */
  async afterQueued(queueId: string, held: HeldRecipient[], sender: string): Promise<HeldOutcome[]> {
    const body = await this.store.body(queueId);
    const summary = summarizeHeld(body ?? Buffer.alloc(0));
    const byUser = new Map<string, number[]>();
    for (const { rcptIndex, user } of held) {
      const key = user.toLowerCase();
      byUser.set(key, [...(byUser.get(key) ?? []), rcptIndex]);
    }
    const outcomes: HeldOutcome[] = [];
    for (const [user, rcptIndexes] of byUser) {
      outcomes.push(await this.holdForUser(queueId, user, rcptIndexes, sender, summary));
    }
    return outcomes;
  }

  /** A reply to a confirm address (the MX calls this for RCPT TO with a confirm cookie). */
  async confirmByAddress(recipientAddress: string, sender: string): Promise<ConfirmOutcome> {
    // A bounce of the challenge itself comes back to the confirm address: it proves nothing.
    if (sender === '') return { kind: 'invalid', reason: 'null-sender' };
    const user = userOfTaggedAddress(recipientAddress);
    const reference = user && readConfirmAddress(this.keyOf(user), recipientAddress);
    if (!reference) return { kind: 'invalid', reason: 'not-a-confirm-address' };
    const entry = this.db.pendingById(reference.pendingId);
    if (!entry || entry.user !== reference.user || Math.floor(entry.createdAt / 1000) !== reference.ts) {
      return { kind: 'invalid', reason: 'unknown-entry' };
    }
    return this.confirm(entry, 'reply');
  }

  /** A click on the confirm link. */
  async confirmByToken(token: string): Promise<ConfirmOutcome> {
    const entry = this.entryOfToken(token);
    if (!entry) return { kind: 'invalid', reason: 'unknown-token' };
    return this.confirm(entry, 'link');
  }

  /** The entry a confirm token names, for the confirmation page; undefined when unknown. */
  entryOfToken(token: string): PendingEntry | undefined {
    return /^[A-Za-z0-9_-]{43}$/.test(token) ? this.db.pendingByTokenHash(hashToken(token)) : undefined;
  }

  /** Operator release of one entry; with `whitelist`, the sender also goes on the user's whitelist. */
  async release(id: number, options: { whitelist?: boolean } = {}): Promise<Released | undefined> {
    const entry = this.db.pendingById(id);
    if (entry?.state !== 'pending') return undefined;
    if (options.whitelist) this.addToWhitelist(entry.user, entry.sender, 'operator');
    const released = await this.releaseEntry(entry);
    this.logger.info({ pendingId: id, queueId: entry.queueId, user: entry.user }, 'challenge: released');
    return released;
  }

  /** Operator discard of one entry: the held recipients fail (or the message goes when it was all theirs). */
  async discard(id: number, reason = 'discarded by operator'): Promise<boolean> {
    const entry = this.db.pendingById(id);
    if (entry?.state !== 'pending') return false;
    await this.dropEntry(entry, 'discarded');
    this.logger.info(
      { pendingId: id, queueId: entry.queueId, user: entry.user, from: entry.sender, reason },
      'challenge: discarded',
    );
    return true;
  }

  /** Drops every entry that waited past its hold time; returns how many. Call it periodically. */
  async expire(now = this.now()): Promise<number> {
    const expired = this.db.expiredPending(now);
    for (const entry of expired) {
      await this.dropEntry(entry, 'expired');
      this.logger.info(
        { pendingId: entry.id, queueId: entry.queueId, user: entry.user, from: entry.sender },
        'challenge: held message expired unconfirmed',
      );
    }
    this.db.forgetBefore(now - this.holdMs);
    return expired.length;
  }

  listPending(options: { user?: string; limit?: number } = {}): PendingEntry[] {
    return this.db.listPending({
      limit: options.limit ?? 100,
      ...(options.user === undefined ? {} : { user: options.user.toLowerCase() }),
    });
  }

  pending(id: number): PendingEntry | undefined {
    return this.db.pendingById(id);
  }

  addToWhitelist(user: string, entry: string, source: WhitelistEntry['source'] = 'operator'): void {
    this.db.addWhitelist({
      user: user.toLowerCase(),
      entry: normalizeWhitelistEntry(entry),
      addedAt: this.now(),
      source,
    });
  }

  removeFromWhitelist(user: string, entry: string): boolean {
    return this.db.removeWhitelist(user.toLowerCase(), normalizeWhitelistEntry(entry));
  }

  whitelist(user: string): WhitelistEntry[] {
    return this.db.listWhitelist(user.toLowerCase());
  }

  /** A dated, sender-bound or keyword address of `user` that skips the challenge while valid. */
  address(user: string, request: AddressRequest): string {
    return makeUserAddress(this.keyOf(user), user, request);
  }

  async isEnabled(user: string): Promise<boolean> {
    const record = await this.store.getUser(user.toLowerCase());
    return record?.settings[CHALLENGE_SETTING] === 'on';
  }

  /** Turns challenge/response on or off for a mailbox; false when there is no such mailbox. */
  async setEnabled(user: string, enabled: boolean): Promise<boolean> {
    const address = user.toLowerCase();
    const record = await this.store.getUser(address);
    if (!record) return false;
    const { [CHALLENGE_SETTING]: _previous, ...others } = record.settings;
    const settings = enabled ? { ...others, [CHALLENGE_SETTING]: 'on' } : others;
    return this.store.updateUser(address, { settings });
  }

  close(): void {
    this.db.close();
  }

  /**
   * Each mailbox has its own 20-byte TMDA key, derived from the installation's, as TMDA users each
   * have their own crypt_key: cookies carry no user, so one shared key would let bob's tagged
   * addresses be rewritten into alice's.
   */
  private keyOf(user: string): Buffer {
    return createHmac('sha1', this.masterKey).update(`outpost-challenge-key:${user.toLowerCase()}`).digest();
  }

  private deliver(user: string, sender: string, reason: DeliverReason): ChallengeDecision {
    this.logger.debug({ user, from: sender, reason }, 'challenge: not challenged');
    return { action: 'deliver', reason };
  }

  private async holdForUser(
    queueId: string,
    user: string,
    rcptIndexes: number[],
    sender: string,
    summary: ReturnType<typeof summarizeHeld>,
  ): Promise<HeldOutcome> {
    const now = this.now();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.holdMs;
    const pendingId = this.db.insertPending({
      queueId,
      user,
      sender,
      rcptIndexes,
      subject: summary.subject,
      createdAt: now,
      expiresAt,
      tokenHash: hashToken(token),
    });
    const log = { pendingId, queueId, user, from: sender };
    const slot = this.db.takeChallengeSlot(sender.toLowerCase(), now, {
      sender: this.dailyLimit,
      domain: this.domainDailyLimit,
    });
    if (slot !== 'taken') {
      this.logger.info(log, `challenge: held, daily challenge limit for this ${slot} reached`);
      return { pendingId, user };
    }
    const challengeId = newQueueId();
    const from = confirmAddress(this.keyOf(user), user, now, pendingId);
    const challenge: NewMessage = {
      id: challengeId,
      // RFC 3834: an automatic response goes out with the null sender, so nothing answers it.
      sender: '',
      body: buildChallengeMessage({
        user,
        sender,
        confirmAddress: from,
        ...(this.options.baseUrl === undefined
          ? {}
          : { confirmUrl: `${this.options.baseUrl.replace(/\/+$/, '')}/challenge/confirm/${token}` }),
        held: summary,
        heldAt: now,
        expiresAt,
        hostname: this.options.hostname,
        challengeId,
        now,
      }),
      receivedAt: now,
      meta: { challenge: pendingId, heldQueueId: queueId, user },
      recipients: [{ address: sender, target: this.options.targetFor?.(sender) ?? 'smtp', notify: [] }],
    };
    await this.store.enqueue(challenge);
    this.db.markChallenged(pendingId);
    this.options.onQueued?.();
    this.logger.info({ ...log, challengeQueueId: challengeId }, 'challenge: held, challenge sent');
    return { pendingId, user, challenge };
  }

  /** Releases every entry of the same user and sender, and whitelists the sender. */
  private async confirm(entry: PendingEntry, via: 'reply' | 'link'): Promise<ConfirmOutcome> {
    if (entry.state !== 'pending') {
      return entry.state === 'released'
        ? { kind: 'already', user: entry.user, sender: entry.sender }
        : { kind: 'invalid', reason: entry.state };
    }
    this.addToWhitelist(entry.user, entry.sender, 'confirm');
    const released: Released[] = [];
    for (const waiting of this.db.pendingFor(entry.user, entry.sender)) {
      released.push(await this.releaseEntry(waiting));
    }
    this.logger.info(
      { user: entry.user, from: entry.sender, via, released: released.map((r) => r.queueId) },
      'challenge: confirmed, sender whitelisted',
    );
    return { kind: 'released', user: entry.user, sender: entry.sender, released };
  }

  /** Queue first, then the entry: a crash in between leaves an entry whose release is a no-op. */
  private async releaseEntry(entry: PendingEntry): Promise<Released> {
    let recipients = 0;
    for (const rcptIndex of entry.rcptIndexes) {
      recipients += await this.store.setStatus(entry.queueId, ['held'], 'queued', rcptIndex);
    }
    this.db.finish(entry.id, 'released', this.now());
    if (recipients > 0) this.options.onQueued?.();
    return { pendingId: entry.id, queueId: entry.queueId, recipients };
  }

  /**
   * Ends an entry without delivery: the whole message is removed when these held recipients are
   * all it has, otherwise each of them becomes final ('failed' or 'expired'). No DSN: the sender
   * never proved the address is theirs, so a bounce could be backscatter.
   */
  private async dropEntry(entry: PendingEntry, state: 'discarded' | 'expired'): Promise<void> {
    const message = await this.store.message(entry.queueId);
    const ours = new Set(entry.rcptIndexes);
    const onlyOurs = message?.recipients.every((r) => ours.has(r.rcptIndex) && r.status === 'held');
    if (onlyOurs) await this.store.remove(entry.queueId);
    else if (message !== undefined) {
      const final = state === 'expired' ? 'expired' : 'failed';
      for (const rcptIndex of entry.rcptIndexes) {
        await this.store.setStatus(entry.queueId, ['held'], final, rcptIndex);
      }
    }
    this.db.finish(entry.id, state, this.now());
  }
}

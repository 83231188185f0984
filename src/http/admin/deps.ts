import type { Registry } from 'prom-client';
import type { Store } from '../../queue/store/types.js';
import type { ListPolicy } from '../../trustlist/policy.js';
import type { TrustListStore } from '../../trustlist/store.js';

/** A value or a promise of it: the optional services below may be synchronous (SQLite) or not. */
export type MaybePromise<T> = T | Promise<T>;

/** One message held until its sender answers a challenge. */
export interface PendingChallenge {
  id: string;
  /** The local user the message is for. */
  user: string;
  sender: string;
  queueId?: string;
  subject?: string;
  /** When the challenge was sent (ms since the epoch). */
  createdAt: number;
}

/** What the console needs of the challenge/response service; the page is hidden without it. */
export interface ChallengeAdmin {
  list(): MaybePromise<PendingChallenge[]>;
  release(id: string): MaybePromise<unknown>;
  discard(id: string): MaybePromise<unknown>;
  whitelist(user: string, sender: string): MaybePromise<unknown>;
}

/** One IM2000 message this post office keeps for its sender. */
export interface Im2000Sent {
  id: string;
  sender: string;
  subject?: string;
  /** ms since the epoch. */
  sentAt: number;
  recipients: { address: string; status: string; at?: number }[];
}

/** What the console needs of the IM2000 post office; the page is hidden without it. */
export interface Im2000Admin {
  sent(): MaybePromise<Im2000Sent[]>;
  recall(id: string): MaybePromise<unknown>;
}

/** Everything the admin console reads and steers. */
export interface AdminDeps {
  store: Store;
  /** The API token (config http.token); it also logs in. Undefined: only admin users can log in. */
  token: string | undefined;
  /** The trust list this node runs, if any, and its policy for relisting. */
  trustlist?: TrustListStore;
  trustlistPolicy?: ListPolicy;
  challenge?: ChallengeAdmin;
  im2000?: Im2000Admin;
  /** Metrics registry to read counters from; default prom-client's global register. */
  metrics?: Registry;
  /** How often the queue depth is sampled for the dashboard chart (default 10 s). */
  sampleEveryMs?: number;
  now?: () => number;
}

// Idle SMTP sessions kept for the next message to the same host, so consecutive messages share a
// connection (and its TLS handshake) instead of paying for a new one each.
import type { Peer } from './session.js';

export interface PoolOptions {
  /** How long an idle session is kept before QUIT. */
  idleTimeoutMs: number;
  /** Messages one connection carries at most, then it is closed. */
  maxMessagesPerConnection: number;
  /** Wait for the QUIT reply when closing. */
  quitTimeoutMs: number;
}

interface Idle {
  peer: Peer;
  timer: NodeJS.Timeout;
}

export class ConnectionPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly options: PoolOptions) {}

  /**
   * An idle session for this key (host, address, port and TLS policy), or undefined. Sessions
   * found closed or talking out of turn on the way are closed and dropped. No probe is sent: a
   * session that died unseen shows as a broken MAIL, which the caller retries on a new connection.
   */
  take(key: string): Peer | undefined {
    const entries = this.idle.get(key) ?? [];
    let found: Peer | undefined;
    while (found === undefined && entries.length > 0) {
      const entry = entries.shift();
      if (entry === undefined) break;
      clearTimeout(entry.timer);
      if (entry.peer.client.usable) found = entry.peer;
      else entry.peer.client.close();
    }
    if (entries.length === 0) this.idle.delete(key);
    found?.client.setIdle(false);
    return found;
  }

  /** Takes back a session after a transaction; keeps it if it may carry more, else closes it. */
  give(peer: Peer): void {
    if (!peer.client.usable) {
      peer.client.close();
      return;
    }
    if (peer.messages >= this.options.maxMessagesPerConnection || this.options.idleTimeoutMs <= 0) {
      this.quit(peer);
      return;
    }
    const timer = setTimeout(() => {
      this.drop(peer);
      this.quit(peer);
    }, this.options.idleTimeoutMs);
    timer.unref();
    peer.client.setIdle(true);
    this.idle.set(peer.key, [...(this.idle.get(peer.key) ?? []), { peer, timer }]);
  }

  /** Closes a session that is not going back into the pool. */
  quit(peer: Peer): void {
    const done = peer.client.quit(this.options.quitTimeoutMs).finally(() => this.closing.delete(done));
    this.closing.add(done);
  }

  /** Idle sessions now (for tests and metrics). */
  size(): number {
    let count = 0;
    for (const entries of this.idle.values()) count += entries.length;
    return count;
  }

  /** QUITs every idle session and waits for the QUITs in progress. */
  async close(): Promise<void> {
    for (const entries of this.idle.values()) {
      for (const entry of entries) {
        clearTimeout(entry.timer);
        this.quit(entry.peer);
      }
    }
    this.idle.clear();
    await Promise.all([...this.closing]);
  }

  private drop(peer: Peer): void {
    const entries = (this.idle.get(peer.key) ?? []).filter((entry) => entry.peer !== peer);
    if (entries.length === 0) this.idle.delete(peer.key);
    else this.idle.set(peer.key, entries);
  }
}

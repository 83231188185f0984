// Records the outcomes of deliveries that finish close together in one Store.complete call: one
// writer round trip and one transaction for many instead of one each. While a call is in flight,
// new records wait and all go together in the next one; a record arriving while nothing is in
// flight goes at once, so an idle queue adds no latency. Each caller still hears back only after
// the write carrying its outcomes is durable.
import type { DeliveryOutcome, NewMessage, Store } from './store/types.js';

interface WaitingRecord {
  outcomes: DeliveryOutcome[];
  notices: NewMessage[];
  resolve(): void;
  reject(error: unknown): void;
}

// Outcomes per combined call: large enough to carry a whole delivery round, small enough to keep
// one call's structured clone and transaction short.
const MAX_OUTCOMES_PER_CALL = 512;

export class OutcomeBatcher {
  private waiting: WaitingRecord[] = [];
  private sending = false;

  constructor(private readonly store: Pick<Store, 'complete'>) {}

  /** Same contract as Store.complete: resolves once outcomes and notices are durable, together. */
  record(outcomes: DeliveryOutcome[], notices: NewMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ outcomes, notices, resolve, reject });
      this.sendNext();
    });
  }

  private sendNext(): void {
    if (this.sending || this.waiting.length === 0) return;
    const batch = this.takeBatch();
    this.sending = true;
    void this.send(batch).finally(() => {
      this.sending = false;
      this.sendNext();
    });
  }

  private takeBatch(): WaitingRecord[] {
    let outcomes = 0;
    let count = 0;
    for (const entry of this.waiting) {
      if (count > 0 && outcomes + entry.outcomes.length > MAX_OUTCOMES_PER_CALL) break;
      outcomes += entry.outcomes.length;
      count += 1;
    }
    return this.waiting.splice(0, count);
  }

  private async send(batch: WaitingRecord[]): Promise<void> {
    if (batch.length > 1) {
      try {
        await this.store.complete(
          batch.flatMap((entry) => entry.outcomes),
          batch.flatMap((entry) => entry.notices),
        );
        for (const entry of batch) entry.resolve();
        return;
      } catch {
        // One bad record must not fail the others: fall through and write each on its own.
      }
    }
    await Promise.all(
      batch.map(async (entry) => {
        try {
          await this.store.complete(entry.outcomes, entry.notices);
          entry.resolve();
        } catch (error) {
          entry.reject(error);
        }
      }),
    );
  }
}

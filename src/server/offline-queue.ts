// Group commit for the offline store: messages to store and acks to apply gather during an
// event-loop turn and are written in one transaction at its end. Only then are senders told
// "stored" (OFF-1), so an acknowledged message is on disk before anyone is told it is safe.
// One commit is in flight at a time; a store that is unreachable (StoreUnavailableError, e.g.
// PostgreSQL restarting) keeps the batch and is tried again, so nothing queued is dropped (CLU-4).

import { isRetryable, type Ack, type AsyncStore, type StoredMessage } from '../store/async-store.ts';

/** Waits between tries of a batch while the store is unavailable: doubling up to the last. */
const RETRY_MS = [50, 100, 200, 400, 800, 1600];

export class OfflineQueue {
  private inserts: StoredMessage[] = [];
  private acks: Ack[] = [];
  private done: ((error?: unknown) => void)[] = [];
  private inFlight: Promise<void> | undefined;
  private inFlightInserts: readonly StoredMessage[] = [];

  constructor(
    private readonly store: AsyncStore,
    /** Called whenever something is queued, so that a flush at the end of the turn is arranged. */
    private readonly onQueue: () => void = () => {},
    private readonly log: (line: string) => void = () => {},
  ) {}

  get pending(): boolean {
    return this.inserts.length > 0 || this.acks.length > 0;
  }

  /** Messages not yet committed: queued, or in the commit being tried. */
  unstored(): readonly StoredMessage[] {
    return [...this.inFlightInserts, ...this.inserts];
  }

  /** Queues `msg`; `done` runs after the commit that makes it durable (with an error if it failed for good). */
  add(msg: StoredMessage, done?: (error?: unknown) => void): void {
    this.inserts.push(msg);
    if (done) this.done.push(done);
    this.onQueue();
  }

  /** Queues removal of `user`'s stored messages with these ids (keys). */
  ack(user: string, ids: readonly number[]): void {
    this.acks.push({ user, ids });
    this.onQueue();
  }

  /**
   * Commits what is queued; resolves when everything queued before the call is committed (or has
   * failed for good and its callbacks were told). Never rejects. Callers run it at the end of a
   * turn, and before reading the store.
   */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight.then(() => this.flush());
    if (!this.pending) return Promise.resolve();
    const { inserts, acks, done } = this;
    this.inserts = [];
    this.acks = [];
    this.done = [];
    this.inFlightInserts = inserts;
    this.inFlight = this.commit(inserts, acks, done).finally(() => {
      this.inFlight = undefined;
      this.inFlightInserts = [];
    });
    return this.inFlight;
  }

  private async commit(inserts: StoredMessage[], acks: Ack[], done: ((error?: unknown) => void)[]): Promise<void> {
    let error: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        // A try after a failure may follow one that committed without answering: `again`.
        await this.store.commit(inserts, acks, { again: attempt > 0 });
        error = undefined;
        break;
      } catch (err) {
        error = err ?? new Error('commit failed');
        if (!isRetryable(err)) break;
        if (attempt === 0) this.log(`${(err as Error).message}; keeping ${inserts.length} messages and ${acks.length} acks and trying again`);
        await Bun.sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] as number);
      }
    }
    for (const fn of done) {
      try {
        fn(error);
      } catch (err) {
        this.log(`error after a commit: ${String(err)}`);
      }
    }
  }
}

/** Which messages, for the log: key, sender and recipient (never the text), the first 20. */
export function describeMessages(messages: readonly { id: number; from: string; to: string }[]): string {
  const shown = messages.slice(0, 20).map((m) => `${m.id} (${m.from} to ${m.to})`);
  return `${shown.join(', ')}${messages.length > 20 ? `, and ${messages.length - 20} more` : ''}`;
}

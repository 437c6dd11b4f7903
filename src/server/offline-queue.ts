// Group commit for the offline store: messages to store and acks to apply gather during an
// event-loop turn and are written in one transaction at its end. Only then are senders told
// "stored" (OFF-1), so an acknowledged message is on disk before anyone is told it is safe.

import type { Ack, Store, StoredMessage } from '../store/store.ts';

export class OfflineQueue {
  private inserts: StoredMessage[] = [];
  private acks: Ack[] = [];
  private done: ((error?: unknown) => void)[] = [];

  constructor(
    private readonly store: Store,
    /** Called whenever something is queued, so that a flush at the end of the turn is arranged. */
    private readonly onQueue: () => void = () => {},
  ) {}

  get pending(): boolean {
    return this.inserts.length > 0 || this.acks.length > 0;
  }

  /** Queues `msg`; `done` runs after the commit that makes it durable (with an error if it failed). */
  add(msg: StoredMessage, done?: (error?: unknown) => void): void {
    this.inserts.push(msg);
    if (done) this.done.push(done);
    this.onQueue();
  }

  /** Queues removal of `user`'s stored messages up to `upTo`. */
  ack(user: string, upTo: number): void {
    this.acks.push({ user, upTo });
    this.onQueue();
  }

  /** Commits what is queued. Callers run it at the end of a turn, and before reading the store. */
  flush(): void {
    if (!this.pending) return;
    const { inserts, acks, done } = this;
    this.inserts = [];
    this.acks = [];
    this.done = [];
    let error: unknown;
    try {
      this.store.commit(inserts, acks);
    } catch (err) {
      error = err ?? new Error('commit failed');
    }
    for (const fn of done) fn(error);
  }
}

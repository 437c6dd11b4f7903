// The sender's side of a message to a user on another node (CLU-3, CLU-4). The sender's node keeps
// the message until the owner's node says it was delivered, or `ackMs` pass, or the owner's epoch
// dies; then it stores the message (idempotently, by origin key) and only after the commit tells the
// sender `stored`. A store that fails because PostgreSQL is unavailable is retried, never dropped.
// Knows no sockets and no Redis: the caller feeds it acks, deaths and the time.

import { isRetryable, type AsyncStore, type OriginMessage } from '../store/async-store.ts';

/** `blocked`: the recipient blocks the sender (MSG-2: the sender is told, nothing is stored). */
export type HandoffOutcome = 'delivered' | 'stored' | 'blocked' | 'failed';

interface Held {
  readonly msg: OriginMessage;
  /** The owner (`<node>#<epoch>`) it was handed to. */
  readonly owner: string;
  readonly handedAt: number;
  readonly tell: (outcome: HandoffOutcome) => void;
}

export interface HandoffOptions {
  /** How long the owner has to confirm delivery before the message is stored. */
  ackMs?: number;
  /** After a store failed because the store was unavailable, wait this long before trying again. */
  retryMs?: number;
  /** After storing for `to`: re-check whether `to` came online meanwhile (then its node delivers the backlog). */
  afterStore?: (to: string) => void;
  onLog?: (line: string) => void;
}

export class Handoffs {
  /** Held messages by origin key, oldest first (Map keeps insertion order). */
  private readonly held = new Map<string, Held>();
  /** Decided to store, waiting for a commit (or for the store to come back). */
  private storing = new Map<string, Held>();
  private inFlight: Promise<void> | undefined;
  /** The messages of the commit in flight. */
  private committing: OriginMessage[] = [];
  private retryAt = -Infinity;
  /** The last try failed (the store is unavailable): said once, and once when it is back. */
  private failing = false;
  readonly ackMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly store: Pick<AsyncStore, 'storeOnce'>,
    private readonly options: HandoffOptions = {},
  ) {
    this.ackMs = options.ackMs ?? 10_000;
    this.retryMs = options.retryMs ?? 500;
  }

  /** Messages held or being stored. */
  get size(): number {
    return this.held.size + this.storing.size;
  }

  /** Messages not yet stored nor confirmed delivered: held, waiting to be stored, or in the commit being tried. */
  unstored(): OriginMessage[] {
    return [...this.committing, ...[...this.storing.values(), ...this.held.values()].map((h) => h.msg)];
  }

  /** `msg` was sent to `owner`'s inbox; `tell` hears its fate exactly once. */
  hand(msg: OriginMessage, owner: string, now: number, tell: (outcome: HandoffOutcome) => void): void {
    this.held.set(msg.origin, { msg, owner, handedAt: now, tell });
  }

  /**
   * Redis restarted empty: the inbox entries of everything held may be gone with it. Returns what
   * is held, to be handed again now, each with a fresh ackMs (a copy delivered already is shown
   * once by the client, by its key, and its second `delivered` finds nothing held).
   */
  handAgain(now: number): { readonly msg: OriginMessage; readonly owner: string }[] {
    const again = [...this.held.values()];
    // In the same order, all handed now: the oldest-first order tick() relies on holds.
    this.held.clear();
    for (const h of again) this.held.set(h.msg.origin, { ...h, handedAt: now });
    return again.map(({ msg, owner }) => ({ msg, owner }));
  }

  /** The owner's node wrote these to the recipient, who acknowledged them. */
  delivered(origins: Iterable<string>): void {
    for (const origin of origins) {
      // Held, or decided to store but not yet tried (the store is down, or the node is stopping):
      // the recipient has it, so it need not be stored.
      const h = this.held.get(origin) ?? this.storing.get(origin);
      if (!h) continue; // already stored (the ack came late): the recipient drops the copy by its key
      this.held.delete(origin);
      this.storing.delete(origin);
      settle(h, 'delivered');
    }
  }

  /**
   * The owner's node could not take the message: the recipient had gone (`offline`: stored now) or
   * blocks the sender (`blocked`: told, never stored).
   */
  refused(origin: string, reason: 'offline' | 'blocked', now: number): Promise<void> {
    const h = this.held.get(origin);
    if (!h) return this.inFlight ?? Promise.resolve();
    this.held.delete(origin);
    if (reason === 'blocked') {
      settle(h, 'blocked');
      return this.inFlight ?? Promise.resolve();
    }
    this.storing.set(origin, h);
    return this.flush(now);
  }

  /** `owner`'s epoch died: everything handed to it is stored (now, unless a failed store waits to retry). */
  ownerDead(owner: string, now: number): Promise<void> {
    for (const [origin, h] of this.held) {
      if (h.owner !== owner) continue;
      this.held.delete(origin);
      this.storing.set(origin, h);
    }
    return this.flush(now);
  }

  /** The node is stopping: everything still held is stored now (by origin key, so a copy delivered meanwhile is stored at most once). */
  async storeAll(now: number): Promise<void> {
    for (const [origin, h] of this.held) {
      this.held.delete(origin);
      this.storing.set(origin, h);
    }
    await this.inFlight;
    await this.flush(Math.max(now, this.retryAt));
  }

  /**
   * Runs on a timer: stores what waited longer than ackMs, and retries stores that failed. Resolves
   * after the commit it started (if any); never rejects.
   */
  tick(now: number): Promise<void> {
    for (const [origin, h] of this.held) {
      if (now - h.handedAt < this.ackMs) break; // oldest first: the rest are younger
      this.held.delete(origin);
      this.storing.set(origin, h);
    }
    return this.flush(now);
  }

  /** Stores everything decided so far in one storeOnce; one commit at a time. */
  private flush(now: number): Promise<void> {
    if (this.inFlight || this.storing.size === 0 || now < this.retryAt) return this.inFlight ?? Promise.resolve();
    const batch = this.storing;
    this.storing = new Map();
    this.committing = [...batch.values()].map((h) => h.msg);
    this.inFlight = this.commit(batch, now).finally(() => {
      this.inFlight = undefined;
      this.committing = [];
    });
    return this.inFlight;
  }

  private async commit(batch: Map<string, Held>, now: number): Promise<void> {
    try {
      await this.store.storeOnce([...batch.values()].map((h) => h.msg));
    } catch (error) {
      if (isRetryable(error)) {
        // Back in the queue, ahead of anything newer; the sender still waits (CLU-4).
        this.storing = new Map([...batch, ...this.storing]);
        this.retryAt = now + this.retryMs;
        if (!this.failing) this.options.onLog?.(`${error.message}; ${batch.size} handed-off messages will be stored when it is back`);
        this.failing = true;
        return;
      }
      this.options.onLog?.(`storing ${batch.size} handed-off messages failed: ${String(error)}`);
      for (const h of batch.values()) settle(h, 'failed');
      return;
    }
    if (this.failing) this.options.onLog?.(`the store is back: ${batch.size} handed-off messages stored`);
    this.failing = false;
    const recipients = new Set<string>();
    for (const h of batch.values()) {
      settle(h, 'stored');
      recipients.add(h.msg.to);
    }
    for (const to of recipients) {
      try {
        this.options.afterStore?.(to);
      } catch (error) {
        this.options.onLog?.(`after storing for ${to}: ${String(error)}`);
      }
    }
  }
}

function settle(h: Held, outcome: HandoffOutcome): void {
  try {
    h.tell(outcome);
  } catch {
    // The sender's connection is gone or its callback failed: the message's fate does not change.
  }
}

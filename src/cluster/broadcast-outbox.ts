// Broadcasts on their way to the other nodes (BCAST-1, CLU-4). The sending node writes a broadcast
// to its own users at once; the copy for the other nodes goes on the events stream, here, in order.
// While Redis is unreachable the copies wait and are tried again (backoff) until Redis answers, so a
// broadcast its sender was told is on its way is not dropped after one failed try. A try whose
// outcome is unknown (no answer in time) may have been written: the next one writes it again, and
// clients show the second copy once, by its key. Knows no sockets: the caller gives `publish`.

import { RedisUnavailableError } from './redis-link.ts';

export interface BroadcastItem {
  /** The broadcast's key (CLU-3). */
  readonly key: number;
  readonly from: string;
  readonly at: number;
  readonly body: string;
}

export interface BroadcastOutboxOptions {
  /** At most this many wait; more are refused (`busy`) before anything is written. */
  readonly max?: number;
  /** At most this many in one events entry. */
  readonly perEntry?: number;
  /** Waits between failed tries: doubling up to the last. */
  readonly retryMs?: readonly number[];
  readonly log?: (line: string) => void;
}

const RETRY_MS = [100, 200, 400, 800, 1000];

export class BroadcastOutbox {
  private queue: BroadcastItem[] = [];
  /** Told, once, whether the first try that included their broadcast put it on the stream. */
  private waiting: { readonly upTo: number; readonly tell: (published: boolean) => void }[] = [];
  /** Broadcasts ever queued (each waiter's `upTo` is its number) and ever published. */
  private queued = 0;
  private done = 0;
  private running: Promise<void> | undefined;
  private timer: Timer | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly publish: (items: readonly BroadcastItem[]) => Promise<unknown>,
    private readonly options: BroadcastOutboxOptions = {},
  ) {}

  /** Broadcasts not yet on the events stream. */
  get size(): number {
    return this.queue.length;
  }

  /**
   * Queues `item` behind those before it. Resolves true once it is on the events stream, false when
   * the first try that included it failed (it stays queued and is tried again). Throws
   * RedisUnavailableError, queuing nothing, when too many wait already.
   */
  add(item: BroadcastItem): Promise<boolean> {
    const max = this.options.max ?? 10_000;
    if (this.closed) throw new RedisUnavailableError('the node is stopping');
    if (this.queue.length >= max) throw new RedisUnavailableError(`${this.queue.length} broadcasts wait for Redis already`);
    this.queue.push(item);
    const upTo = ++this.queued;
    const told = new Promise<boolean>((tell) => this.waiting.push({ upTo, tell }));
    // Batched per turn: the try starts after the handlers of this turn ran.
    if (!this.running && this.timer === undefined) this.running = Promise.resolve().then(() => this.run());
    return told;
  }

  /** The node is stopping: one last try for what waits; what still cannot be written is logged. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.queue.length > 0) await this.run(true);
    if (this.queue.length > 0) {
      this.options.log?.(`${this.queue.length} broadcasts could not be passed on to the other nodes (Redis unreachable): their users there never get them`);
      this.queue = [];
    }
  }

  private async run(last = false): Promise<void> {
    const items = this.queue.slice(0, this.options.perEntry ?? 200);
    // Everyone whose broadcast is in this try hears how it went; the others wait for theirs.
    const reach = this.done + items.length;
    let published = false;
    try {
      await this.publish(items);
      published = true;
    } catch (error) {
      if (this.failures++ === 0) this.options.log?.(`broadcasts cannot be passed on to the other nodes (${error instanceof Error ? error.message : String(error)}); ${this.queue.length} wait and are tried again until Redis answers`);
    }
    if (published) {
      this.queue.splice(0, items.length);
      this.done += items.length;
      if (this.failures > 0) this.options.log?.(`broadcasts passed on to the other nodes again after ${this.failures} failed tries`);
      this.failures = 0;
    }
    this.tellUpTo(reach, published);
    this.running = undefined;
    if (last || this.closed || this.queue.length === 0) return;
    if (published) this.running = Promise.resolve().then(() => this.run());
    else {
      const waits = this.options.retryMs ?? RETRY_MS;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.running = this.run();
      }, waits[Math.min(this.failures - 1, waits.length - 1)]);
    }
  }

  private tellUpTo(reach: number, published: boolean): void {
    let n = 0;
    while (n < this.waiting.length && (this.waiting[n]?.upTo ?? Infinity) <= reach) n++;
    for (const w of this.waiting.splice(0, n)) w.tell(published);
  }
}

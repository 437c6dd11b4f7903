// Node-to-node traffic on Redis Streams, never pub/sub (pub/sub loses what is sent while a subscriber
// reconnects, and Bun does not re-subscribe). A reader remembers the last id it handled per stream and
// reads on from there with XREAD BLOCK, so a dropped connection or a restarted Redis costs nothing it
// could still read. The reader needs a RedisLink of its own: a blocked XREAD holds its connection.

import { RedisUnavailableError, type RedisLink } from './redis-link.ts';

export interface StreamEntry {
  readonly stream: string;
  readonly id: string;
  /** The entry's fields, as name -> value. */
  readonly fields: Readonly<Record<string, string>>;
}

/** Appends one entry (XADD, trimmed to about `maxLen` entries); resolves with its id. */
export function append(link: RedisLink, stream: string, fields: Readonly<Record<string, string>>, maxLen = 100_000): Promise<string> {
  return link.call<string>('XADD', [stream, 'MAXLEN', '~', maxLen, '*', ...Object.entries(fields).flat()]);
}

/** The id of the newest entry of `stream` ('0-0' when it is empty or missing): where a new reader starts. */
export async function lastId(link: RedisLink, stream: string): Promise<string> {
  const newest = await link.call<[string, string[]][] | null>('XREVRANGE', [stream, '+', '-', 'COUNT', 1]);
  return newest?.[0]?.[0] ?? '0-0';
}

export interface StreamReaderOptions {
  /** How long one XREAD waits for entries. */
  blockMs?: number;
  /** Entries per XREAD at most. */
  count?: number;
  /** Wait before reading again after Redis failed (doubles up to 1 s). */
  retryMs?: number;
  /** Redis became unreachable (with why) or reachable again (undefined), once per change. */
  onTrouble?: (error: Error | undefined) => void;
  clock?: () => number;
}

export class StreamReader {
  /** The last id handled, per stream: the next read starts after it. */
  readonly positions: Map<string, string>;
  private running = false;
  private loop: Promise<void> | undefined;
  private troubled = false;
  private aliveAt: number;
  private readonly clock: () => number;
  private wake: (() => void) | undefined;

  constructor(
    private readonly link: RedisLink,
    /** stream -> the id to read after (from `lastId()`, or '0-0' for everything). */
    from: ReadonlyMap<string, string>,
    /** Handles one batch in order; the positions move on only after it resolves. */
    private readonly handle: (entries: StreamEntry[]) => void | Promise<void>,
    private readonly options: StreamReaderOptions = {},
  ) {
    this.positions = new Map(from);
    this.clock = options.clock ?? Date.now;
    this.aliveAt = this.clock();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the read in flight (or at once when waiting to retry). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /**
   * How long since the reader last heard from Redis (an answer, even an empty one): a health check
   * covers the data path with this, so a stalled reader is noticed.
   */
  silentFor(now = this.clock()): number {
    return now - this.aliveAt;
  }

  private async run(): Promise<void> {
    const blockMs = this.options.blockMs ?? 1000;
    let retryMs = this.options.retryMs ?? 50;
    while (this.running) {
      try {
        const streams = [...this.positions.keys()];
        const reply = await this.link.call<Record<string, [string, string[]][]> | null>(
          'XREAD',
          ['COUNT', this.options.count ?? 1000, 'BLOCK', blockMs, 'STREAMS', ...streams, ...streams.map((s) => this.positions.get(s) as string)],
          blockMs + this.link.timeoutMs,
        );
        this.aliveAt = this.clock();
        this.setTrouble(undefined);
        retryMs = this.options.retryMs ?? 50;
        if (!reply) continue;
        const entries: StreamEntry[] = [];
        for (const [stream, items] of Object.entries(reply)) {
          for (const [id, flat] of items) entries.push({ stream, id, fields: toFields(flat) });
        }
        if (entries.length === 0) continue;
        try {
          await this.handle(entries);
        } catch (error) {
          // The handler's own mistake: skip past the batch rather than spin on it for ever.
          this.options.onTrouble?.(new Error(`a stream handler failed: ${String(error)}`));
        }
        for (const e of entries) this.positions.set(e.stream, e.id);
      } catch (error) {
        this.setTrouble(error instanceof Error ? error : new Error(String(error)));
        if (!(error instanceof RedisUnavailableError)) {
          // A server error (say, a stream key of the wrong type) would repeat: slow down all the same.
          retryMs = 1000;
        }
        await this.pause(retryMs);
        retryMs = Math.min(retryMs * 2, 1000);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.wake = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private setTrouble(error: Error | undefined): void {
    if ((error !== undefined) === this.troubled) return;
    this.troubled = error !== undefined;
    try {
      this.options.onTrouble?.(error);
    } catch {
      // the listener's mistake
    }
  }
}

function toFields(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fields;
}

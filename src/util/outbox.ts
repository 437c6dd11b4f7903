// Per-socket output (server connections, the client, peers): lines queue during an event-loop
// turn and leave in one write() per socket per turn. Bun's write() takes what the kernel takes and
// drops the rest, so the unsent tail is kept here and resent on drain. A reader that lets more
// than `limit` bytes pile up is cut off.

/** The part of a Bun socket the outbox needs (a fake in unit tests). */
export interface Sink {
  write(data: string | Uint8Array): number;
  /** Bytes the sink took but still holds (a WebSocket queues under backpressure); absent: none. */
  bufferedAmount?(): number;
  /** True when the sink wants text (a WebSocket sends a frame a line); otherwise bytes are cheaper. */
  readonly wantsText?: boolean;
}

/** Runs end-of-turn work: hooks first (the group commit), then every outbox written to this turn. */
export class TurnFlusher {
  private dirty: Outbox[] = [];
  private scheduled = false;
  private readonly hooks: (() => void)[] = [];

  /** `hook` runs at the end of every turn in which anything was queued, before outboxes flush. */
  beforeFlush(hook: () => void): void {
    this.hooks.push(hook);
  }

  mark(outbox: Outbox): void {
    this.dirty.push(outbox);
    this.request();
  }

  /** Asks for an end-of-turn run even if no outbox is dirty (e.g. a store write is waiting). */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /** Does the end-of-turn work now (also used before a close, so the last lines go out). */
  readonly run = (): void => {
    this.scheduled = false;
    for (const hook of this.hooks) hook();
    const dirty = this.dirty;
    this.dirty = [];
    for (const outbox of dirty) outbox.flush();
  };
}

/** Queued text up to this size is joined into one write; more goes a line at a time. */
const JOIN_LIMIT = 64 * 1024;

/**
 * Where a turn's lines are encoded for one write, shared by every outbox (writes are synchronous):
 * one copy into bytes, where joining the strings and letting write() convert them made two
 * (profiled: the join was a fifth of the server's time a message). A UTF-16 unit is at most 3 bytes.
 */
let scratch: EncodeBuffer | undefined;
/** Node's utf8Write (Bun has it; the types do not): write(text, offset) without the argument parsing, twice as fast. */
type EncodeBuffer = Buffer & { utf8Write(text: string, offset: number): number };
let scratchBusy = false;

/** The empty queue every outbox shares (frozen: a push to it would be a bug). */
const NO_LINES: string[] = Object.freeze([]) as unknown as string[];

export class Outbox {
  /** NO_LINES (shared, never written to) while nothing is queued: an idle outbox holds no array. */
  private lines: string[] = NO_LINES;
  private queuedChars = 0;
  /**
   * What the kernel did not take at the last write: the rest of an ASCII text, kept as a string
   * because the text is often shared (a broadcast or presence text queued for thousands of
   * readers, and slow ones each keep their tail), or else bytes. Either way length = bytes.
   */
  private unsent: string | Uint8Array | null = null;
  private marked = false;
  private closed = false;
  /** Bytes the queue may hold past the limit for a burst the server sends on its own (see allow). */
  private allowance = 0;

  constructor(
    private readonly sink: Sink,
    private readonly flusher: TurnFlusher,
    readonly limit: number,
    /** Called once when the queue passes the limit; the owner disconnects the reader. */
    private readonly onOverflow: () => void,
    /** `this` for onOverflow: an owner can pass a shared function instead of a closure of its own (B3). */
    private readonly owner?: object,
  ) {}

  /** Queues one line (with its LF). Ignored once closed. */
  push(line: string): void {
    if (this.closed) return;
    if (this.lines === NO_LINES) this.lines = [line];
    else this.lines.push(line);
    this.queuedChars += line.length;
    if (this.queuedChars + (this.unsent?.length ?? 0) + (this.sink.bufferedAmount?.() ?? 0) > this.limit + this.allowance) {
      // Lines queued during one turn have not been offered to the kernel yet: only what it does
      // not take counts against the limit, or a burst to a fast reader would cut it off.
      this.flush();
      if (this.closed || this.pending <= this.limit + this.allowance) return;
      this.closed = true;
      this.onOverflow.call(this.owner);
      return;
    }
    if (!this.marked) {
      this.marked = true;
      this.flusher.mark(this);
    }
  }

  /** Bytes and characters waiting to be written, or written but still held by the sink. */
  get pending(): number {
    return this.queuedChars + (this.unsent?.length ?? 0) + (this.sink.bufferedAmount?.() ?? 0);
  }

  /**
   * Lets the queue grow `bytes` past the limit, for what the server sends in one go on its own
   * account (the stored messages at login): that says nothing about how fast the reader reads.
   * The allowance ends when the queue is back under the limit.
   */
  allow(bytes: number): void {
    this.allowance += bytes;
  }

  /** Writes what is queued. Safe to call at any time, any number of times (drain may fire spuriously). */
  flush(): void {
    this.write();
    if (this.allowance > 0 && this.pending <= this.limit) this.allowance = 0;
  }

  private write(): void {
    this.marked = false;
    if (this.unsent !== null) {
      const rest = this.unsent;
      const n = this.sink.write(rest);
      if (n < 0) return this.drop();
      if (n < rest.length) {
        this.unsent = typeof rest === 'string' ? rest.slice(n) : rest.subarray(n);
        return;
      }
      this.unsent = null;
    }
    while (this.lines.length > 0) {
      // Small lines leave together, in one write: as bytes encoded once, or joined for a sink that
      // wants text. A large queue goes a line at a time: its lines are often texts shared by
      // thousands of outboxes (a presence batch, a broadcast), and a slow reader joining its
      // backlog would make a copy of them all of its own.
      if (this.lines.length > 1 && this.queuedChars <= JOIN_LIMIT && !this.sink.wantsText && !scratchBusy) {
        if (!this.writeEncoded()) return;
        continue;
      }
      let text: string;
      if (this.lines.length === 1 || this.queuedChars <= JOIN_LIMIT) {
        text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
        this.lines = NO_LINES;
        this.queuedChars = 0;
      } else {
        text = this.lines.shift() as string;
        this.queuedChars -= text.length;
      }
      const n = this.sink.write(text);
      if (n < 0) return this.drop();
      if (n >= text.length && n >= Buffer.byteLength(text)) continue;
      // A short write: keep the rest. ASCII text keeps a slice of the (possibly shared) string;
      // only other text pays for a copy of its bytes.
      const bytes = Buffer.byteLength(text);
      if (n >= bytes) continue;
      this.unsent = bytes === text.length ? text.slice(n) : Buffer.from(text).subarray(n);
      return;
    }
  }

  /** Writes every queued line, encoded into the shared buffer; false when the sink did not take it all. */
  private writeEncoded(): boolean {
    scratch ??= Buffer.allocUnsafe(3 * JOIN_LIMIT) as EncodeBuffer;
    const buffer = scratch;
    let length = 0;
    for (const line of this.lines) length += buffer.utf8Write(line, length);
    this.lines = NO_LINES;
    this.queuedChars = 0;
    // Busy while the sink has it, in case the write calls back into another outbox.
    scratchBusy = true;
    let n: number;
    try {
      n = this.sink.write(buffer.subarray(0, length));
    } finally {
      scratchBusy = false;
    }
    if (n < 0) {
      this.drop();
      return false;
    }
    if (n >= length) return true;
    // A short write: the rest is copied out, since the buffer is the next writer's.
    this.unsent = Uint8Array.prototype.slice.call(buffer, n, length);
    return false;
  }

  /** Stops accepting lines; what is queued can still be flushed. */
  close(): void {
    this.closed = true;
  }

  private drop(): void {
    this.lines = NO_LINES;
    this.queuedChars = 0;
    this.unsent = null;
    this.closed = true;
  }
}

// A hashed timer wheel: every server timer (inactivity, lockout expiry, private-chat requests)
// in one structure driven by one OS timer (SESS-2). Pure: the caller passes the time in.

export type TimerId = number;

interface Entry {
  readonly id: TimerId;
  readonly due: number;
  readonly tick: number;
  readonly fn: (arg: never) => void;
  readonly arg: unknown;
}

export class TimerWheel {
  private readonly slots: Set<Entry>[];
  private readonly entries = new Map<TimerId, Entry>();
  private nextId = 1;
  /** The last tick advanced to; entries for it or earlier have fired. */
  private tick: number;
  private nowMs: number;

  /**
   * @param startMs the current time
   * @param tickMs resolution: a timer fires at the first advance at or after its tick
   * @param slotCount timers further out than slotCount ticks wait in their slot for later laps
   */
  constructor(
    startMs: number,
    readonly tickMs = 100,
    slotCount = 1024,
  ) {
    this.slots = Array.from({ length: slotCount }, () => new Set<Entry>());
    this.nowMs = startMs;
    this.tick = Math.floor(startMs / tickMs);
  }

  /** Time of the last advance. */
  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `fn` once, `delayMs` after the last advance (never during the advance that scheduled it).
   * With `arg`, `fn(arg)`: a timer per user (inactivity) can share one function instead of holding
   * a closure and its scope each (memory per idle user, B3).
   */
  schedule(delayMs: number, fn: () => void): TimerId;
  schedule<T>(delayMs: number, fn: (arg: T) => void, arg: T): TimerId;
  schedule(delayMs: number, fn: (arg: never) => void, arg?: unknown): TimerId {
    const due = this.nowMs + Math.max(0, delayMs);
    const tick = Math.max(Math.ceil(due / this.tickMs), this.tick + 1);
    const entry: Entry = { id: this.nextId++, due, tick, fn, arg };
    this.entries.set(entry.id, entry);
    this.slotOf(tick).add(entry);
    return entry.id;
  }

  /** Returns false when the timer had already fired or been cancelled. */
  cancel(id: TimerId): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.slotOf(entry.tick).delete(entry);
    return true;
  }

  /**
   * Moves the clock to `nowMs` and runs every timer due by then, earliest first. Returns how many ran.
   * A callback that throws does not stop the others; the first error is rethrown at the end.
   */
  advance(nowMs: number): number {
    if (nowMs < this.nowMs) return 0;
    const target = Math.floor(nowMs / this.tickMs);
    const steps = Math.min(target - this.tick, this.slots.length);
    const due: Entry[] = [];
    for (let i = 1; i <= steps; i++) {
      for (const entry of this.slotOf(this.tick + i)) {
        if (entry.tick <= target) due.push(entry);
      }
    }
    this.tick = target;
    this.nowMs = nowMs;
    due.sort((a, b) => a.due - b.due || a.id - b.id);
    let ran = 0;
    let failure: { error: unknown } | undefined;
    for (const entry of due) {
      // An earlier callback in this batch may have cancelled it.
      if (!this.entries.delete(entry.id)) continue;
      this.slotOf(entry.tick).delete(entry);
      ran++;
      try {
        (entry.fn as (arg: unknown) => void)(entry.arg);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    return ran;
  }

  private slotOf(tick: number): Set<Entry> {
    return this.slots[tick % this.slots.length] as Set<Entry>;
  }
}

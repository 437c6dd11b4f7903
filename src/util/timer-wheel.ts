// A hashed timer wheel: every server timer (inactivity, lockout expiry, private-chat requests)
// in one structure driven by one OS timer (SESS-2). Pure: the caller passes the time in.

/** A scheduled timer, as schedule() returns it: the handle to cancel it with. */
export type TimerId = Timer;

/**
 * A timer is its own handle and its own link in its slot's list (first to last in scheduling
 * order), so a timer costs this one object: no id -> entry map, no set per slot. With a timer per
 * idle user, those two hash-table entries were ~190 bytes of heap a user (B3, bench/idle-heap.ts).
 */
class Timer {
  prev: Timer | undefined = undefined;
  next: Timer | undefined = undefined;
  constructor(
    readonly due: number,
    /** The tick it fires at; -1 once it has fired or been cancelled. */
    public tick: number,
    readonly fn: (arg: never) => void,
    readonly arg: unknown,
  ) {}
}

export class TimerWheel {
  /** Each slot's timers, first and last of a doubly linked list (Timer.prev/next). */
  private readonly firsts: (Timer | undefined)[];
  private readonly lasts: (Timer | undefined)[];
  private count = 0;
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
    this.firsts = new Array<Timer | undefined>(slotCount).fill(undefined);
    this.lasts = new Array<Timer | undefined>(slotCount).fill(undefined);
    this.nowMs = startMs;
    this.tick = Math.floor(startMs / tickMs);
  }

  /** Time of the last advance. */
  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.count;
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
    const timer = new Timer(due, tick, fn, arg);
    const slot = tick % this.firsts.length;
    const last = this.lasts[slot];
    timer.prev = last;
    if (last) last.next = timer;
    else this.firsts[slot] = timer;
    this.lasts[slot] = timer;
    this.count++;
    return timer;
  }

  /** Returns false when the timer had already fired or been cancelled. */
  cancel(timer: TimerId): boolean {
    if (timer.tick < 0) return false;
    this.remove(timer);
    return true;
  }

  /**
   * Moves the clock to `nowMs` and runs every timer due by then, earliest first. Returns how many ran.
   * A callback that throws does not stop the others; the first error is rethrown at the end.
   */
  advance(nowMs: number): number {
    if (nowMs < this.nowMs) return 0;
    const target = Math.floor(nowMs / this.tickMs);
    const steps = Math.min(target - this.tick, this.firsts.length);
    const due: Timer[] = [];
    for (let i = 1; i <= steps; i++) {
      for (let timer = this.firsts[(this.tick + i) % this.firsts.length]; timer; timer = timer.next) {
        if (timer.tick <= target) due.push(timer);
      }
    }
    this.tick = target;
    this.nowMs = nowMs;
    // Stable: timers due at the same time run in the order they were scheduled (a slot's order).
    due.sort((a, b) => a.due - b.due);
    let ran = 0;
    let failure: { error: unknown } | undefined;
    for (const timer of due) {
      // An earlier callback in this batch may have cancelled it.
      if (timer.tick < 0) continue;
      this.remove(timer);
      ran++;
      try {
        (timer.fn as (arg: unknown) => void)(timer.arg);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    return ran;
  }

  private remove(timer: Timer): void {
    const slot = timer.tick % this.firsts.length;
    if (timer.prev) timer.prev.next = timer.next;
    else this.firsts[slot] = timer.next;
    if (timer.next) timer.next.prev = timer.prev;
    else this.lasts[slot] = timer.prev;
    timer.prev = timer.next = undefined;
    timer.tick = -1;
    this.count--;
  }
}

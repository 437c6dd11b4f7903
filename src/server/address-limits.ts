// Limits kept per client address (SEC-2): which addresses count as one, sliding-window counters
// (registrations, failed logins) and growing bans. Pure: the caller passes the time in.

/**
 * The key an address is counted under: IPv4 as it is, IPv6 by its /64 (one host usually holds a
 * whole /64, as ergo assumes), so that stepping through a prefix does not give more connections.
 */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::') as [string?, string?];
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes two groups.
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Events per key in a sliding window. */
export class WindowCounter {
  private readonly times = new Map<string, number[]>();

  constructor(
    /** Events allowed per window (0: no limit). */
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Events of `key` within the window that ends at `now`. */
  count(key: string, now: number): number {
    const list = this.times.get(key);
    if (!list) return 0;
    while (list.length > 0 && (list[0] as number) <= now - this.windowMs) list.shift();
    if (list.length === 0) this.times.delete(key);
    return list.length;
  }

  full(key: string, now: number): boolean {
    return this.max > 0 && this.count(key, now) >= this.max;
  }

  record(key: string, now: number): number {
    if (this.times.size > 50_000) this.sweep(now);
    let list = this.times.get(key);
    if (!list) this.times.set(key, (list = []));
    list.push(now);
    return this.count(key, now);
  }

  clear(key: string): void {
    this.times.delete(key);
  }

  /** How long until `key` may have one more event. */
  waitMs(key: string, now: number): number {
    const first = this.times.get(key)?.[0];
    return first === undefined ? 0 : Math.max(0, first + this.windowMs - now);
  }

  private sweep(now: number): void {
    for (const key of [...this.times.keys()]) this.count(key, now);
  }
}

/**
 * ejabberd's mod_fail2ban, with a growing ban: `maxFailures` failed logins from one address within
 * `windowMs` ban it for `banMs`; each ban within a day of the last one lasts twice as long (at most a day).
 */
export class FailureBans {
  private readonly failures: WindowCounter;
  private readonly bans = new Map<string, { until: number; level: number; at: number }>();

  constructor(
    readonly maxFailures: number,
    readonly banMs: number,
    windowMs = 10 * 60_000,
  ) {
    this.failures = new WindowCounter(maxFailures, windowMs);
  }

  /** Milliseconds the address is still banned for (0: not banned). */
  bannedFor(key: string, now: number): number {
    const ban = this.bans.get(key);
    if (!ban) return 0;
    if (ban.until > now) return ban.until - now;
    if (now - ban.at > DAY_MS) this.bans.delete(key);
    return 0;
  }

  /** Counts a failure; returns the length of the ban it started, or 0. */
  fail(key: string, now: number): number {
    if (this.maxFailures <= 0) return 0;
    if (this.failures.record(key, now) < this.maxFailures) return 0;
    this.failures.clear(key);
    const last = this.bans.get(key);
    const level = last && now - last.at <= DAY_MS ? last.level + 1 : 0;
    const length = Math.min(this.banMs * 2 ** level, DAY_MS);
    this.bans.set(key, { until: now + length, level, at: now });
    return length;
  }
}

const DAY_MS = 24 * 3600_000;

/**
 * One log line per key per `everyMs` for events that come in floods (refused connections): the
 * first is said, the rest are counted and the count goes with the next line said.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; more: number }>();

  constructor(readonly everyMs = 60_000) {}

  /** The line to log for this event (with how many were held back since the last), or undefined. */
  line(key: string, now: number, text: string): string | undefined {
    const last = this.seen.get(key);
    if (last && now - last.at < this.everyMs) {
      last.more++;
      return undefined;
    }
    if (this.seen.size > 10_000) for (const [k, v] of this.seen) if (now - v.at >= this.everyMs) this.seen.delete(k);
    this.seen.set(key, { at: now, more: 0 });
    return last && last.more > 0 ? `${text} (and ${last.more} more like it in the last ${Math.round((now - last.at) / 1000)} s)` : text;
  }
}

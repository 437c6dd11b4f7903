// A command budget (token bucket): `rate` commands a second on average, bursts of up to `burst`
// (a pasted block of lines). The server enforces it per connection; the client paces itself with
// the same one so that it never hits the server's. Pure: the caller passes the time in.

export type Verdict = 'ok' | 'limited' | 'flood';

export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /**
   * Spends `cost` at `now`. `limited`: refuse the command. `flood`: the sender kept going for a
   * whole burst's worth of refusals; close the connection.
   */
  take(now: number, cost = 1): Verdict {
    this.refill(now);
    this.tokens -= cost;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -this.burst ? 'flood' : 'limited';
  }

  /** Milliseconds from `now` until a command of `cost` would be accepted (0: now). */
  waitMs(now: number, cost = 1): number {
    this.refill(now);
    return this.tokens >= cost ? 0 : Math.ceil(((cost - this.tokens) / this.rate) * 1000);
  }

  private refill(now: number): void {
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
  }
}

// A per-connection command budget (token bucket): `rate` commands a second on average, bursts of
// up to `burst` (a pasted block of lines). Pure: the caller passes the time in.

export type Verdict = 'ok' | 'limited' | 'flood';

export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /**
   * One command at `now`. `limited`: refuse it. `flood`: the sender kept going for a whole
   * burst's worth of refusals; close the connection.
   */
  take(now: number): Verdict {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -this.burst ? 'flood' : 'limited';
  }

  /** Milliseconds until the next command would be accepted. */
  retryAfterMs(): number {
    return Math.max(0, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
  }
}

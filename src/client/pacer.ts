// The client's side of the server's command budget: typed lines leave one at a time, in the order
// they were typed, never faster than the budget allows (with a margin for network jitter). A line
// the server refused anyway (`rate-limited`) goes out again before every line typed after it, once
// the server says it may: a refusal holds everything, so nothing piles up and nothing overtakes.

/** Use this share of the server's rate and burst: lines bunched by the network then still fit. */
const MARGIN = 0.9;

interface Turn {
  readonly seq: number;
  readonly cost: number;
  readonly go: () => void;
}

export class Pacer {
  private tokens: number;
  private last: number;
  private heldUntil = 0;
  private nextSeq = 1;
  /** Waiting lines, ordered by when they were typed (a retried line keeps its place). */
  private readonly queue: Turn[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private rate = Infinity;
  private burst = Infinity;

  constructor(
    budget: { rate: number; burst: number } | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = 0;
    this.last = now();
    this.reset(budget);
  }

  /** A new connection with this budget (its login already spent two commands of it). */
  reset(budget: { rate: number; burst: number } | undefined): void {
    this.rate = budget ? budget.rate * MARGIN : Infinity;
    this.burst = budget ? Math.max(1, Math.floor(budget.burst * MARGIN)) : Infinity;
    this.tokens = budget ? this.burst - 2 : Infinity;
    this.last = this.now();
    this.heldUntil = 0;
    this.pump();
  }

  /** A place in the line for something about to be sent; the number keeps it there on a retry. */
  ticket(): number {
    return this.nextSeq++;
  }

  /** Resolves when the line holding `seq` may leave; it then spends `cost`. */
  turn(seq: number, cost = 1): Promise<void> {
    return new Promise((go) => {
      let at = this.queue.length;
      while (at > 0 && (this.queue[at - 1] as Turn).seq > seq) at--;
      this.queue.splice(at, 0, { seq, cost, go });
      this.pump();
    });
  }

  /** Spends `cost` at once (an ack: it must not wait behind typed lines). */
  spend(cost: number): void {
    this.refill();
    this.tokens -= cost;
  }

  /** The server refused a line: nothing leaves for `ms`, and then the budget starts empty. */
  hold(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, this.now() + ms);
    this.tokens = Math.min(this.tokens, 0);
    this.last = Math.max(this.last, this.heldUntil);
    this.pump();
  }

  private refill(): void {
    if (this.rate === Infinity) {
      this.tokens = Infinity;
      return;
    }
    const now = this.now();
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      const now = this.now();
      let wait = this.heldUntil - now;
      if (wait <= 0) {
        this.refill();
        // A line costing more than a whole burst could never go: let it go on a full bucket.
        const need = Math.min(head.cost, this.burst);
        wait = this.tokens >= need ? 0 : Math.ceil(((need - this.tokens) / this.rate) * 1000);
      }
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.tokens -= head.cost;
      head.go();
    }
  }
}

// The page's connection to the server: one WebSocket to /ws on the page's own origin, one line
// per frame. Requests are tagged (#w1, #w2 …) so that replies find their request (PROTO-2).
// It knows nothing of the DOM; app.ts decides what to do with events and when to reconnect.

import { NOTIFICATION_COST } from '../../protocol/limits.ts';
import type { ErrorLine, OkLine, ServerLine } from '../../protocol/server-lines.ts';
import { RateLimiter } from '../../util/rate-limiter.ts';

export type Reply = OkLine | ErrorLine;

export class Wire {
  private readonly ws: WebSocket;
  private nextTag = 1;
  private readonly waiting = new Map<string, (reply: Reply) => void>();
  /** The server's command budget (from the welcome): requests wait their turn instead of being refused. */
  private limiter: RateLimiter | undefined;
  private readonly queue: string[] = [];
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** Requests sent so far: before pace() they came out of the server's budget all the same. */
  private sent = 0;
  /** Resolves once the socket is open; rejects if it closes first. */
  readonly opened: Promise<void>;

  constructor(
    url: string,
    private readonly onEvent: (line: ServerLine) => void,
    /** Called once, when the socket closes for any reason. */
    private readonly onClose: (code: number) => void,
  ) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve());
      this.ws.addEventListener('close', () => reject(new Error('closed')));
    });
    this.opened.catch(() => {});
    this.ws.addEventListener('message', (e) => this.receive(String(e.data)));
    this.ws.addEventListener('close', (e) => {
      clearTimeout(this.pumpTimer);
      this.queue.length = 0;
      // Requests left unanswered get an error of their own, so nothing waits for ever.
      for (const resolve of this.waiting.values()) resolve({ type: 'error', code: 'internal', text: 'The connection closed before the server answered' } as ErrorLine);
      this.waiting.clear();
      this.onClose(e.code);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Paces requests to `rate` a second, bursts of `burst` (the welcome's `rateLimit`), as the terminal client does. */
  pace(limit: unknown): void {
    const { rate, burst } = (limit ?? {}) as { rate?: unknown; burst?: unknown };
    if (typeof rate !== 'number' || typeof burst !== 'number' || rate <= 0) return;
    // A little under the server's budget: the browser's and the server's clocks and turns differ
    // by some milliseconds, and a refused command still costs the server's budget.
    this.limiter = new RateLimiter(rate * 0.9, Math.max(1, burst - 2), Date.now());
    this.limiter.take(Date.now(), this.sent);
  }

  /** Sends a request (when the budget allows) and resolves with its reply. */
  request(line: string): Promise<Reply> {
    const tag = `w${this.nextTag++}`;
    return new Promise((resolve) => {
      this.waiting.set(tag, resolve);
      this.queue.push(`#${tag} ${line}`);
      this.pump();
    });
  }

  /** Sends a notification (ack) at once; it costs the budget a little, as on the server. */
  notify(line: string): void {
    this.limiter?.take(Date.now(), NOTIFICATION_COST);
    if (this.open) this.ws.send(line);
  }

  private pump(): void {
    if (this.pumpTimer !== undefined) return;
    while (this.queue.length > 0) {
      const wait = this.limiter?.waitMs(Date.now()) ?? 0;
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.limiter?.take(Date.now());
      const line = this.queue.shift() as string;
      this.sent++;
      if (this.open) this.ws.send(line);
    }
  }

  close(): void {
    this.ws.close(1000);
  }

  private receive(text: string): void {
    let line: ServerLine;
    try {
      line = JSON.parse(text) as ServerLine;
    } catch {
      return; // CLI-10's rule for the page too: a malformed line never ends the session
    }
    if (typeof line !== 'object' || line === null || typeof line.type !== 'string') return;
    if ((line.type === 'ok' || line.type === 'error') && line.re !== undefined) {
      const resolve = this.waiting.get(line.re);
      if (resolve) {
        this.waiting.delete(line.re);
        resolve(line);
        return;
      }
    }
    this.onEvent(line);
  }
}

// The page's connection to the server: one WebSocket to /ws on the page's own origin, one line
// per frame. Requests are tagged (#w1, #w2 …) so that replies find their request (PROTO-2).
// It knows nothing of the DOM; app.ts decides what to do with events and when to reconnect.

import type { ErrorLine, OkLine, ServerLine } from '../../protocol/server-lines.ts';

export type Reply = OkLine | ErrorLine;

export class Wire {
  private readonly ws: WebSocket;
  private nextTag = 1;
  private readonly waiting = new Map<string, (reply: Reply) => void>();
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
      // Requests left unanswered get an error of their own, so nothing waits for ever.
      for (const resolve of this.waiting.values()) resolve({ type: 'error', code: 'internal', text: 'The connection closed before the server answered' } as ErrorLine);
      this.waiting.clear();
      this.onClose(e.code);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a request and resolves with its reply. */
  request(line: string): Promise<Reply> {
    const tag = `w${this.nextTag++}`;
    return new Promise((resolve) => {
      this.waiting.set(tag, resolve);
      this.send(`#${tag} ${line}`);
    });
  }

  /** Sends a line that gets no reply (ack) or whose reply is not awaited. */
  send(line: string): void {
    if (this.open) this.ws.send(line);
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

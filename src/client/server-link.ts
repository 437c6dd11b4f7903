// The client's connection to the server: socket, framing, tagged requests and their replies.
// Knows nothing about terminals; events go to `onEvent`.

import type { Socket } from 'bun';
import type { Verb } from '../protocol/commands.ts';
import { LineSplitter, INVALID_UTF8 } from '../protocol/line-splitter.ts';
import { formatRequest } from '../protocol/request.ts';
import { parseServerLine, type ErrorLine, type OkLine, type ServerLine } from '../protocol/server-lines.ts';
import { Outbox, TurnFlusher } from '../util/outbox.ts';
import { problemWith } from './check-line.ts';

export type Reply = OkLine | ErrorLine;

export class ConnectionLost extends Error {
  constructor() {
    super('the connection to the server was lost');
  }
}

interface LinkHandlers {
  onEvent(line: ServerLine): void;
  /** A line that could not be understood, in one sentence; the session goes on (CLI-10). */
  onMalformed(text: string): void;
  /** The connection ended (either side); `byServer` is false after close(). */
  onClose(byServer: boolean): void;
}

export class ServerLink {
  private readonly pending = new Map<string, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly splitter = new LineSplitter(1 << 20);
  private outbox!: Outbox;
  private socket!: Socket<undefined>;
  private nextTag = 1;
  private closedByUs = false;
  closed = false;
  /** Whether the server has sent a line of the protocol yet. */
  heard = false;

  private constructor(private readonly handlers: LinkHandlers) {}

  /**
   * Connects (over TLS when `tls` is given, trusting `tls.ca` or the system's CAs); throws an
   * Error with a one-line message when the server cannot be reached or its certificate is refused.
   */
  static async open(host: string, port: number, handlers: LinkHandlers, tls?: { ca?: string }): Promise<ServerLink> {
    const link = new ServerLink(handlers);
    const flusher = new TurnFlusher();
    // With TLS, `open` comes before the handshake and anything written then is lost: wait for it.
    let handshake: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const handshaken = new Promise<void>((resolve, reject) => (handshake = { resolve, reject }));
    const where = `${host}:${port}`;
    try {
      link.socket = await Bun.connect({
        hostname: host,
        port,
        tls: tls ? (tls.ca ? { ca: Bun.file(tls.ca) } : true) : undefined,
        socket: {
          data: (_socket, chunk) => link.receive(chunk),
          drain: () => link.outbox.flush(),
          close: () => {
            handshake?.reject(new Error(`the server at ${where} closed the connection during the TLS handshake`));
            link.lost();
          },
          error: () => link.lost(),
          ...(tls && {
            handshake: (_socket: Socket<undefined>, ok: boolean, error: Error | null) => {
              if (ok) handshake?.resolve();
              else if (/WRONG_VERSION_NUMBER|packet length too long/i.test(error?.message ?? '')) {
                handshake?.reject(new Error(`the server at ${where} does not speak TLS (leave out --tls?)`));
              } else {
                handshake?.reject(new Error(`the server at ${where} is not trusted: ${error?.message ?? 'TLS handshake failed'}${tls.ca ? '' : ' (pass --ca with its certificate)'}`));
              }
            },
          }),
        },
      });
    } catch (err) {
      throw new Error(`cannot reach the server at ${where} (${(err as { code?: string }).code ?? (err as Error).message})`);
    }
    if (tls) await handshaken;
    handshake = undefined;
    link.outbox = new Outbox(link.socket, flusher, 64 << 20, () => link.socket.terminate());
    return link;
  }

  /** Sends a request and resolves with its reply, ok or error. Rejects with ConnectionLost. */
  request(verb: Verb, args: readonly (string | number)[] = []): Promise<Reply> {
    if (this.closed) return Promise.reject(new ConnectionLost());
    const tag = String(this.nextTag++);
    this.outbox.push(formatRequest(verb, args, tag));
    return new Promise((resolve, reject) => this.pending.set(tag, { resolve, reject }));
  }

  /** Sends a notification (ack, active): no reply comes. */
  notify(verb: Verb, args: readonly (string | number)[] = []): void {
    if (!this.closed) this.outbox.push(formatRequest(verb, args));
  }

  /** Requests still waiting for their reply. */
  get outstanding(): number {
    return this.pending.size;
  }

  close(): void {
    this.closedByUs = true;
    this.outbox.flush();
    this.socket.end();
  }

  private receive(chunk: Uint8Array): void {
    let lines;
    try {
      lines = this.splitter.push(chunk);
    } catch {
      this.socket.terminate();
      return;
    }
    for (const raw of lines) {
      if (raw === '') continue;
      if (raw === INVALID_UTF8) {
        this.handlers.onMalformed('The server sent a line that is not UTF-8; ignored');
        continue;
      }
      let line: ServerLine;
      try {
        line = parseServerLine(raw);
      } catch {
        this.handlers.onMalformed('The server sent a line that is not a JSON object with a type; ignored');
        continue;
      }
      this.heard = true;
      const problem = problemWith(line);
      const re = (line as Reply).re;
      const waiter = typeof re === 'string' && (line.type === 'ok' || line.type === 'error') ? this.pending.get(re) : undefined;
      if (waiter) {
        this.pending.delete(re as string);
        waiter.resolve(problem ? { type: 'error', re, code: 'internal' as Reply['code'], text: `The server sent ${problem}` } as Reply : line as Reply);
        continue;
      }
      if (problem) {
        this.handlers.onMalformed(`The server sent ${problem}; ignored`);
        continue;
      }
      try {
        this.handlers.onEvent(line);
      } catch {
        // Whatever went wrong with one line must not end the session (CLI-10).
        this.handlers.onMalformed(`The server sent a ${String(line.type).slice(0, 40)} line that could not be shown; ignored`);
      }
    }
  }

  private lost(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.pending.values()) waiter.reject(new ConnectionLost());
    this.pending.clear();
    this.handlers.onClose(!this.closedByUs);
  }
}

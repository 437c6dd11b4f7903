// A protocol-level client for tests: sends raw lines, collects the server's JSON lines, and
// waits for the line it expects (never sleeps).

import { INVALID_UTF8, LineSplitter } from '../../src/protocol/line-splitter.ts';
import type { ServerLine } from '../../src/protocol/server-lines.ts';

export type Line = ServerLine & Record<string, unknown>;

const WAIT_MS = 3000;

export class RawClient {
  readonly lines: Line[] = [];
  /** Every line received, as text, for tests about what crossed the wire. */
  received = '';
  private cursor = 0;
  private nextTag = 1;
  private readonly wakers = new Set<() => void>();
  /** A TCP socket, or a WebSocket seen the same way (see connectWs). */
  private socket!: { write(data: string | Uint8Array): number; end(): void; terminate(): void };
  isClosed = false;
  /** Acknowledge messages as they arrive, as the real client does; tests of acks turn it off. */
  autoAck = true;
  readonly closed: Promise<void>;
  private onClosed!: () => void;

  private constructor() {
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }

  /**
   * Connects to `host:port`; with `tls`, over TLS (any certificate); with `from`, from that local
   * address (127.0.0.2, ... stand for other hosts in tests of per-address limits).
   */
  static async connect(port: number, host = '127.0.0.1', options: { tls?: boolean; from?: string } = {}): Promise<RawClient> {
    const client = new RawClient();
    const splitter = new LineSplitter(1 << 26);
    const handlers = {
        data(_s: unknown, chunk: Buffer) {
          for (const line of splitter.push(chunk)) {
            if (line === INVALID_UTF8) throw new Error('the server sent invalid UTF-8');
            client.receive(line);
          }
          client.wakeAll();
        },
        close() {
          client.closedNow();
        },
        error() {},
    };
    if (options.from !== undefined) {
      client.socket = await connectFrom(port, host, options.from, handlers);
      return client;
    }
    if (!options.tls) {
      client.socket = await Bun.connect({ hostname: host, port, socket: handlers });
      return client;
    }
    // Lines written before the client's handshake is done would be lost: wait for it.
    let shaken!: () => void;
    const handshake = new Promise<void>((resolve) => (shaken = resolve));
    client.socket = await Bun.connect({ hostname: host, port, tls: { rejectUnauthorized: false }, socket: { ...handlers, handshake: () => shaken() } });
    await Promise.race([handshake, client.closed]);
    return client;
  }

  /**
   * The same client over the web client's WebSocket (`ws://host:port/ws`): each line goes in its
   * own frame, and each frame received is one line. Rejects when the upgrade is refused.
   */
  static async connectWs(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
    const client = new RawClient();
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    ws.binaryType = 'arraybuffer';
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
      ws.onclose = (e) => reject(new Error(`WebSocket to ${url} closed before opening (${e.code})`));
    });
    ws.onerror = null;
    ws.onmessage = (e) => {
      client.receive(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer).toString());
      client.wakeAll();
    };
    ws.onclose = (e) => {
      client.closeCode = e.code;
      client.closedNow();
    };
    client.socket = {
      write(data) {
        if (ws.readyState !== WebSocket.OPEN) return -1;
        // A test's raw write: its lines (without LFs) one frame each, or the bytes as one frame.
        if (typeof data !== 'string') ws.send(data);
        else for (const line of data.split('\n').filter((l) => l !== '')) ws.send(line);
        return Buffer.byteLength(data);
      },
      end: () => ws.close(1000),
      terminate: () => ws.close(4000),
    };
    return client;
  }

  /** The WebSocket close code, for connectWs clients. */
  closeCode: number | undefined;

  private receive(line: string): void {
    this.received += `${line}\n`;
    if (!line) return;
    const parsed = JSON.parse(line) as Line;
    this.lines.push(parsed);
    if (this.autoAck && (parsed.type === 'message' || parsed.type === 'broadcast')) this.send(`ack ${parsed.id}`);
  }

  private closedNow(): void {
    this.isClosed = true;
    this.onClosed();
    this.wakeAll();
  }

  /** Sends text as is (add the LF yourself). */
  write(text: string | Uint8Array): number {
    return this.socket.write(text);
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** Sends `#n line` and resolves with the reply tagged n. */
  async request(line: string): Promise<Line> {
    const tag = `t${this.nextTag++}`;
    this.send(`#${tag} ${line}`);
    return this.waitFor((l) => l.re === tag, `the reply to "${line}"`);
  }

  /** The next line at or after the cursor that matches; moves the cursor past it. */
  async waitFor(match: (line: Line) => boolean, what = 'a matching line', ms = WAIT_MS): Promise<Line> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = this.cursor; i < this.lines.length; i++) {
        const line = this.lines[i] as Line;
        if (match(line)) {
          this.cursor = i + 1;
          return line;
        }
      }
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; got ${this.dump()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.dump()}`);
      await nextWake(this.wakers, left);
    }
  }

  /**
   * Waits until more than `count` lines have arrived, the connection closed, or `ms` passed, without
   * moving the cursor (for loops that read `lines` themselves). Resolves either way; check `lines`.
   */
  async more(count: number, ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.lines.length <= count && !this.isClosed) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await nextWake(this.wakers, left);
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Waits for the next line of `type` (and code, if given). */
  event(type: string, fields: Record<string, unknown> = {}): Promise<Line> {
    return this.waitFor(
      (l) => l.type === type && Object.entries(fields).every(([k, v]) => l[k] === v),
      `${type} ${JSON.stringify(fields)}`,
    );
  }

  /**
   * Waits for a presence line saying `user` logged in (online) or out. The cursor stays on that
   * line: one line may name several users, and the next call may look for another of them.
   */
  async presence(user: string, online: boolean): Promise<Line> {
    const line = await this.waitFor((l) => l.type === 'presence' && l.online === online && (l.users as string[]).includes(user), `presence ${user} ${online ? 'in' : 'out'}`);
    this.cursor--;
    return line;
  }

  /** Lines received so far that match (for checking that something did not arrive). */
  seen(match: (line: Line) => boolean): Line[] {
    return this.lines.filter(match);
  }

  async waitClosed(ms = WAIT_MS): Promise<void> {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`connection still open after ${ms} ms; got ${this.dump()}`)), ms));
    await Promise.race([this.closed, timeout]);
  }

  /** Logs in with login/password and waits for the welcome. */
  async login(user: string, password: string): Promise<Line> {
    const first = await this.request(`login ${user}`);
    if (first.type !== 'ok') throw new Error(`login ${user}: ${JSON.stringify(first)}`);
    const reply = await this.request(`password ${password}`);
    if (reply.code !== 'welcome') throw new Error(`password for ${user}: ${JSON.stringify(reply)}`);
    return reply;
  }

  end(): void {
    this.socket.end();
  }

  /** Drops the connection at once, as a killed client would. */
  kill(): void {
    this.socket.terminate();
  }

  private dump(): string {
    return JSON.stringify(this.lines.slice(this.cursor)).slice(0, 1500);
  }
}

/** Connects and logs in. */
export async function loggedIn(port: number, user: string, password: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.login(user, password);
  return client;
}

export const PASSWORDS: Record<string, string> = {
  hans: 'falcon*solo',
  yoda: 'wise@!man',
  vader: 'sithlord**',
  leia: '$blasterpistol$',
  luke: 'light==saber',
};

export function as(port: number, user: keyof typeof PASSWORDS | string): Promise<RawClient> {
  return loggedIn(port, user, PASSWORDS[user] as string);
}

/** Resolves when one of `wakers` is called (something arrived) or after `ms`, whichever is first. */
export function nextWake(wakers: Set<() => void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      wakers.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    wakers.add(wake);
  });
}

/** A node:net socket from a chosen local address, behind the three Socket methods RawClient uses. */
async function connectFrom(port: number, host: string, from: string, on: { data(s: unknown, chunk: Buffer): void; close(): void }) {
  const { connect } = await import('node:net');
  const socket = connect({ host, port, localAddress: from });
  socket.on('data', (chunk: Buffer) => on.data(undefined, chunk));
  socket.on('close', () => on.close());
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    write: (data: string | Uint8Array) => (socket.write(data), typeof data === 'string' ? Buffer.byteLength(data) : data.length),
    end: () => void socket.end(),
    terminate: () => void socket.destroy(),
  };
}

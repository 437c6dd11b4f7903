// One simulated user of the load generator: a socket, an outbox (the project's own: one write per
// socket per turn, unsent tail kept for drain), and a line handler that the scenario swaps in.
// Lines are matched by prefix and numbers read by hand: the generator shares the machine's two
// cores with the server, so it must spend as little as it can per line.

import type { Socket, SocketHandler } from 'bun';
import { Outbox, TurnFlusher } from '../../src/util/outbox.ts';

export const flusher = new TurnFlusher();

/** The generator never gives up on its own output: it has no slow-reader limit. */
const OUTBOX_LIMIT = 1 << 30;

export type LineHandler = (c: Client, line: string) => void;

const noop = (): void => {};

export class Client {
  socket: Socket<Client> | undefined;
  outbox: Outbox | undefined;
  closed = false;
  /** Unfinished last line of the previous chunk (line mode only). */
  partial = '';
  /** Line mode: each line goes to onLine. Count mode: lines are only counted (no decoding). */
  countOnly = false;
  onLine: LineHandler = noop;
  /** Runs after each chunk's lines (acks, refilling the window). */
  afterChunk: (c: Client) => void = noop;
  /** Presence announcements (names in presence lines) received since the welcome. */
  linesAfterWelcome = 0;
  /** Count mode: the last bytes of the previous chunk, for a pattern cut by the boundary. */
  tail: Buffer = Buffer.alloc(0);
  welcomed = false;

  // Scenario state, plain fields so that every Client has the same shape.
  partner = '';
  /** The partner's Client when both are in this process (IRC: its inflight drops when we receive). */
  peer: Client | undefined;
  seq = 0;
  inflight = 0;
  sent = 0;
  received = 0;
  delivered = 0;
  stored = 0;
  failed = 0;
  maxId = 0;
  ackedId = 0;
  /** Time (ms) when the current chunk arrived; 0 until someone asks. */
  chunkAt = 0;
  /** Set for a user of the web client's WebSocket instead of TCP. */
  ws: WebSocket | undefined = undefined;
  /** WebSocket: afterChunk runs once per turn, after every frame that came in it. */
  afterQueued = false;

  constructor(readonly name: string) {}

  send(text: string): void {
    this.outbox?.push(text);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox?.flush();
    this.socket?.end();
    this.ws?.close();
  }
}

const SEPARATOR = Buffer.from('","');

const handlers: SocketHandler<Client> = {
  open(socket) {
    const c = socket.data;
    c.socket = socket;
    c.outbox = new Outbox(socket, flusher, OUTBOX_LIMIT, noop);
  },
  data(socket, chunk) {
    const c = socket.data;
    c.chunkAt = 0;
    if (c.countOnly) {
      // Count names without decoding. In `{"type":"presence","online":…,"users":["a","b"]}` the
      // pattern "," occurs once in the head and once between each two names: as often as there
      // are names. (A quote inside a name is escaped, so "," never occurs within one.)
      let n = 0;
      for (let i = chunk.indexOf(SEPARATOR); i >= 0; i = chunk.indexOf(SEPARATOR, i + SEPARATOR.length)) n++;
      // One cut in two by the chunk boundary starts in the last chunk's tail.
      const joint = Buffer.concat([c.tail, chunk.subarray(0, SEPARATOR.length - 1)]);
      for (let i = joint.indexOf(SEPARATOR); i >= 0 && i < c.tail.length; i = joint.indexOf(SEPARATOR, i + 1)) {
        if (i + SEPARATOR.length > c.tail.length) n++;
      }
      c.tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (SEPARATOR.length - 1))));
      c.linesAfterWelcome += n;
      return;
    }
    let text = chunk.toString('latin1');
    if (c.partial !== '') text = c.partial + text;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      c.onLine(c, text.slice(start, nl));
      start = nl + 1;
    }
    c.partial = start < text.length ? text.slice(start) : '';
    c.afterChunk(c);
  },
  drain(socket) {
    socket.data.outbox?.flush();
  },
  close(socket) {
    socket.data.closed = true;
  },
  error() {},
};

/** Opens the TCP connection (not logged in yet). */
export async function connectClient(c: Client, host: string, port: number): Promise<Client> {
  await Bun.connect<Client>({ hostname: host, port, data: c, socket: handlers });
  return c;
}

/**
 * Opens a WebSocket to the web client's /ws (not logged in yet): the same protocol, one line per
 * frame. The outbox joins what was queued in a turn; each of its lines leaves as a frame.
 */
export async function connectClientWs(c: Client, url: string): Promise<Client> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`${c.name}: WebSocket to ${url} failed`));
  });
  c.ws = ws;
  const sink = {
    write(text: string | Uint8Array): number {
      const s = typeof text === 'string' ? text : Buffer.from(text).toString();
      let start = 0;
      for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', start)) {
        ws.send(s.slice(start, nl));
        start = nl + 1;
      }
      return Buffer.byteLength(s);
    },
  };
  c.outbox = new Outbox(sink, flusher, OUTBOX_LIMIT, noop);
  const after = (): void => {
    c.afterQueued = false;
    c.afterChunk(c);
  };
  ws.onmessage = (e) => {
    c.chunkAt = 0;
    const line = e.data as string;
    if (c.countOnly) c.linesAfterWelcome += presenceNames(line);
    else c.onLine(c, line);
    if (!c.afterQueued) {
      c.afterQueued = true;
      setImmediate(after);
    }
  };
  ws.onclose = () => {
    c.closed = true;
  };
  return c;
}

/** Reads the whole number that starts at `i` in `s`. */
export function intAt(s: string, i: number): number {
  let n = 0;
  for (;;) {
    const d = s.charCodeAt(i++) - 48;
    if (d < 0 || d > 9) return n;
    n = n * 10 + d;
  }
}

/** The number after `"key":` in a JSON line, or -1. */
export function field(s: string, key: string): number {
  const at = s.indexOf(key);
  return at < 0 ? -1 : intAt(s, at + key.length);
}

/**
 * Sends `login` and `password` together and resolves at the welcome. After it, lines go to
 * `after` (default: counted as presence and otherwise ignored).
 */
export function login(c: Client, password: string, after?: LineHandler): Promise<void> {
  return new Promise((resolve, reject) => {
    c.onLine = (client, line) => {
      if (line.includes('"code":"welcome"')) {
        client.welcomed = true;
        client.onLine = after ?? countLine;
        resolve();
      } else if (line.startsWith('{"type":"error"')) {
        reject(new Error(`${client.name}: ${line}`));
      }
    };
    c.send(`login ${c.name}\npassword ${password}\n`);
  });
}

/** Names in a presence line (`{"type":"presence","online":…,"users":["a","b"]}`), 0 for any other line. */
export function presenceNames(line: string): number {
  if (!line.startsWith('{"type":"presence"')) return 0;
  // As in count mode: "," once in the head, once between each two names.
  let n = 0;
  for (let i = line.indexOf('","'); i >= 0; i = line.indexOf('","', i + 3)) n++;
  return n;
}

export const countLine: LineHandler = (c, line) => {
  c.linesAfterWelcome += presenceNames(line);
};

/** Runs `task` over `items` with at most `concurrency` running at once. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await task(items[next++] as T);
  });
  await Promise.all(runners);
}

// A wiretap for peer connections: a TCP proxy between a requester and a peer that records every
// byte each side sends, and can rewrite whole lines in transit (an active attacker on the path).

import type { Socket, TCPSocketListener } from 'bun';

/** `up`: requester -> peer; `down`: peer -> requester. */
export type Direction = 'up' | 'down';

/** Returns the lines to pass on instead of `line` (without LF): [] drops it, [line, line] replays it. */
export type Rewrite = (direction: Direction, line: string, index: number) => string[];

/** One proxied connection; both sockets carry it as their data. */
interface Conn {
  client: Socket<Conn>;
  peer?: Socket<Conn>;
  /** Bytes each socket has not taken yet (Bun's write() drops what it does not take). */
  backlog: { toClient: Uint8Array[]; toPeer: Uint8Array[] };
  partial: Record<Direction, string>;
  lines: Record<Direction, number>;
}

function write(socket: Socket<Conn> | undefined, backlog: Uint8Array[], data: Uint8Array): void {
  backlog.push(data);
  if (socket) flush(socket, backlog);
}

function flush(socket: Socket<Conn>, backlog: Uint8Array[]): void {
  while (backlog.length > 0) {
    const data = backlog[0] as Uint8Array;
    const n = Math.max(socket.write(data), 0);
    if (n < data.length) {
      backlog[0] = data.subarray(n);
      return;
    }
    backlog.shift();
  }
}

export class Tap {
  private readonly recorded: Record<Direction, Uint8Array[]> = { up: [], down: [] };
  private readonly listener: TCPSocketListener<Conn>;

  constructor(targetPort: number, private readonly rewrite?: Rewrite) {
    this.listener = Bun.listen<Conn>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open: (client) => {
          const conn: Conn = { client, backlog: { toClient: [], toPeer: [] }, partial: { up: '', down: '' }, lines: { up: 0, down: 0 } };
          client.data = conn;
          Bun.connect<Conn>({
            hostname: '127.0.0.1',
            port: targetPort,
            data: conn,
            socket: {
              data: (_peer, chunk) => this.pass(conn, 'down', chunk),
              drain: (peer) => flush(peer, conn.backlog.toPeer),
              close: () => void conn.client.end(),
              error: () => void conn.client.end(),
            },
          }).then((peer) => {
            conn.peer = peer;
            flush(peer, conn.backlog.toPeer);
          }, () => client.end());
        },
        data: (client, chunk) => this.pass(client.data, 'up', chunk),
        drain: (client) => flush(client, client.data.backlog.toClient),
        close: (client) => void client.data.peer?.end(),
        error: () => {},
      },
    });
  }

  /** Records `chunk`, rewrites whole lines if asked, and passes the result on. */
  private pass(conn: Conn, direction: Direction, chunk: Uint8Array): void {
    this.recorded[direction].push(chunk.slice());
    const [to, backlog] = direction === 'up' ? [conn.peer, conn.backlog.toPeer] : [conn.client, conn.backlog.toClient];
    if (!this.rewrite) return void write(to, backlog, chunk.slice());
    const lines = (conn.partial[direction] + Buffer.from(chunk).toString('latin1')).split('\n');
    conn.partial[direction] = lines.pop() ?? '';
    const out: string[] = [];
    for (const line of lines) out.push(...this.rewrite(direction, line, conn.lines[direction]++));
    if (out.length > 0) write(to, backlog, Buffer.from(out.map((l) => `${l}\n`).join(''), 'latin1'));
  }

  get port(): number {
    return this.listener.port;
  }

  /** Every byte sent in `direction`, in order. */
  wire(direction: Direction): Buffer {
    return Buffer.concat(this.recorded[direction]);
  }

  /** The lines sent in `direction` (decoded as Latin-1, so any byte shows). */
  lines(direction: Direction): string[] {
    return this.wire(direction).toString('latin1').split('\n').filter((l) => l !== '');
  }

  stop(): void {
    this.listener.stop(true);
  }
}

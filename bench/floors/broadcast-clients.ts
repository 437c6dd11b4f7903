// The readers of the broadcast floor (bench/floors.ts runs one or more): <n> loopback TCP
// connections to <port> that read everything, count the lines of each broadcast (by its "id") and
// note on the shared clock (ms since 1970) when the last copy of each arrived (one clock reading
// per chunk read). On stdin `report` it prints {"counts":[...],"last":[...]} (index: broadcast id)
// and exits.
//
//   bun bench/floors/broadcast-clients.ts <port> <n>     prints "connected" once all n are open

import type { SocketHandler } from 'bun';

const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
const counts: number[] = [];
const last: number[] = [];
const ID = '"id":';
const now = () => performance.timeOrigin + performance.now();

interface Reader {
  partial: string;
}

function onLine(line: string, at: number): void {
  const i = line.indexOf(ID);
  if (i < 0) return;
  let id = 0;
  for (let j = i + ID.length; ; j++) {
    const d = line.charCodeAt(j) - 48;
    if (d < 0 || d > 9) break;
    id = id * 10 + d;
  }
  counts[id] = (counts[id] ?? 0) + 1;
  if (!(at <= (last[id] ?? 0))) last[id] = at;
}

const handlers: SocketHandler<Reader> = {
  data(socket, chunk) {
    const at = now();
    const r = socket.data;
    let text = chunk.toString('latin1');
    if (r.partial !== '') text = r.partial + text;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      onLine(text.slice(start, nl), at);
      start = nl + 1;
    }
    r.partial = start < text.length ? text.slice(start) : '';
  },
  close() {},
  error() {},
};

// Connections in progress are bounded: past the listen backlog SYNs are dropped and retried a second later.
let next = 0;
await Promise.all(
  Array.from({ length: 100 }, async () => {
    while (next < n) {
      next++;
      await Bun.connect<Reader>({ hostname: '127.0.0.1', port, data: { partial: '' }, socket: handlers });
    }
  }),
);
console.log('connected');

for await (const line of console) {
  if (line.trim() === 'report') {
    console.log(JSON.stringify({ counts, last }));
    break;
  }
}
process.exit(0);

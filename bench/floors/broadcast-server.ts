// The broadcast floor in Bun (bench/floors.ts runs it): the cheapest Bun program that sends one
// line to every one of N loopback TCP connections. It accepts N connections (Bun.listen), then on
// `go <count> <intervalMs> <bytes>` (stdin) calls socket.write() with the same line for every
// socket, in one loop, <count> times, <intervalMs> apart, and prints one JSON line per broadcast:
// its start on the shared clock (ms since 1970), the loop's wall time and the process's user and
// system CPU over the loop (process.cpuUsage(): getrusage). No outbox: what the kernel does not take
// is counted (`short`), not retried (a line is ~120 bytes and the readers keep up).
//
//   bun bench/floors/broadcast-server.ts <n> [string|bytes]
//     string: write() the line as a JS string (Bun encodes it for every socket), as chat does;
//     bytes: encode it once and write() the same bytes to every socket.
//   prints "listening <port>", then "ready" once n connections are open

import type { Socket } from 'bun';

const n = Number(process.argv[2] ?? 10_000);
const mode = process.argv[3] === 'bytes' ? 'bytes' : 'string';
const sockets: Socket<undefined>[] = [];
let announced = false;

const listener = Bun.listen<undefined>({
  hostname: '127.0.0.1',
  port: 0,
  socket: {
    open(socket) {
      sockets.push(socket);
      if (sockets.length >= n && !announced) {
        announced = true;
        console.log('ready');
      }
    },
    data() {},
    close() {},
    error() {},
  },
});
console.log(`listening ${listener.port}`);

const now = () => performance.timeOrigin + performance.now();

async function run(count: number, intervalMs: number, bytes: number): Promise<void> {
  const start = now() + 10;
  for (let k = 0; k < count; k++) {
    const wait = start + k * intervalMs - now();
    if (wait > 0) await Bun.sleep(wait);
    // The line: the same shape as chat's broadcast event, padded to `bytes` with the LF.
    const head = `{"type":"broadcast","id":${k},"key":${k},"from":"u0","at":${Date.now()},"body":"`;
    const text = `${head}${'x'.repeat(Math.max(1, bytes - head.length - 3))}"}\n`;
    const payload: string | Uint8Array = mode === 'bytes' ? new TextEncoder().encode(text) : text;
    let short = 0;
    let errors = 0;
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < sockets.length; i++) {
      const w = (sockets[i] as Socket<undefined>).write(payload);
      if (w < 0) errors++;
      else if (w < text.length) short++;
    }
    const t1 = now();
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ i: k, t0, loopMs: t1 - t0, userUs: c.user, sysUs: c.system, short, errors }));
  }
  console.log('done');
}

for await (const line of console) {
  const [cmd, a, b, c] = line.trim().split(' ');
  if (cmd === 'go') await run(Number(a), Number(b), Number(c));
  else if (cmd === 'exit') break;
}
listener.stop(true);
process.exit(0);

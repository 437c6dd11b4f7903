// The server's per-message work in the protocol layer, alone: parsing the requests a message brings
// (`#tag message <user> <text>` and a share of an `ack`), encoding the two lines it sends (the
// `message` and the `delivered`), and writing them through an Outbox to a real loopback socket in
// turns of 64 messages. CPU time of this process (user + system, the socket's reader included)
// per message, best of --rounds; run it in two checkouts to compare them. Under callgrind (seconds
// are noisy on a shared machine; instructions are not), run it with N and 2N messages and one part:
//
//   bun bench/hot-path.ts [--messages 200000] [--rounds 5] [--only parse|encode|write]
//   valgrind --tool=callgrind --smc-check=all-non-file bun bench/hot-path.ts --rounds 1 --only write --messages 20000

import { parseArgs } from 'node:util';
import { isBlank, parseRequest } from '../src/protocol/request.ts';
import { deliveredLine, encodeMessage } from '../src/protocol/server-lines.ts';
import { Outbox, TurnFlusher } from '../src/util/outbox.ts';

const { values: flags } = parseArgs({ args: Bun.argv.slice(2), options: { messages: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' }, only: { type: 'string' } } });
const ROUNDS = Number(flags.rounds);
const runs = (part: string) => flags.only === undefined || flags.only === part;
const N = Number(flags.messages);
const TURN = 64;
const body = (i: number) => `${1795243297994000 + i} ${'x'.repeat(23)}`; // 40 characters, as the bench's
const requests = Array.from({ length: 4096 }, (_, i) => (i % 4 === 3 ? `ack ${1000 + i}` : `#${i} message u${i % 1000} ${body(i)}`));
const bodies = Array.from({ length: 4096 }, (_, i) => body(i));
let sink = 0;

function cpuNs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / N;
}

function parse(): void {
  for (let i = 0; i < N; i++) {
    const line = requests[i & 4095] as string;
    if (!isBlank(line)) sink += parseRequest(line).args.length;
  }
}

function encode(): void {
  for (let i = 0; i < N; i++) {
    sink += encodeMessage('message', 1000 + i, `u${i & 1023}`, 1795243297994, bodies[i & 4095] as string).length;
    sink += deliveredLine(`${i & 4095}`, 1000 + i, `u${(i + 1) & 1023}`).length;
  }
}

let received = 0;
const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data: (_s, d) => void (received += d.length) } });
let drained: () => void = () => {};
const socket = await Bun.connect({ hostname: '127.0.0.1', port: listener.port, socket: { data() {}, drain: () => drained() } });
const flusher = new TurnFlusher();
const outbox = new Outbox(socket, flusher, 1 << 30, () => {
  throw new Error('overflow');
});
drained = () => outbox.flush();

/** Encoded lines through the outbox, a turn of TURN messages at a time; waits for the reader between turns. */
async function write(): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i += TURN) {
    for (let j = i; j < i + TURN; j++) {
      outbox.push(encodeMessage('message', 1000 + j, `u${j & 1023}`, 1795243297994, bodies[j & 4095] as string));
      outbox.push(deliveredLine(`${j & 4095}`, 1000 + j, `u${(j + 1) & 1023}`));
    }
    flusher.run();
    while (outbox.pending > 0) await new Promise((r) => setImmediate(r));
    if ((i & 1023) === 0) await new Promise((r) => setImmediate(r));
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / N;
}

const best = { parse: Infinity, encode: Infinity, write: Infinity };
for (let round = 0; round < ROUNDS; round++) {
  if (runs('parse')) best.parse = Math.min(best.parse, cpuNs(parse));
  if (runs('encode')) best.encode = Math.min(best.encode, cpuNs(encode));
  if (runs('write')) best.write = Math.min(best.write, await write());
}
console.log(
  JSON.stringify({
    messages: N,
    nsPerMessage: { parse: Math.round(best.parse), encode: Math.round(best.encode), 'encode+outbox+socket': Math.round(best.write) },
    bytesRead: received,
    sink: sink > 0,
  }),
);
listener.stop(true);
process.exit(0);

// What one direct message costs the server's handlers, in this process and without sockets: the
// dispatcher, `message`, LocalDelivery, the `Unacked` record, the recipient's `ack` and the sender's
// `delivered`, with both connections' outboxes writing to transports that drop the bytes:
//
// - objects allocated a message, by type (exact, the same from run to run): a full collection,
//   then a burst of --burst messages, then bun:jsc's heapStats(); its counts include every cell
//   allocated since the last collection (live or not) as long as none ran meanwhile, which the
//   burst is small enough for (the two burst sizes printed side by side must agree);
// - CPU time a message (user + system of this process) over --messages, best of --rounds (moves
//   with the machine's load); under valgrind's callgrind, instructions instead: run it with
//   --only cpu at N and 3N messages and divide the difference by 2N.
//
//   bun bench/direct-allocs.ts [--messages 200000] [--rounds 5] [--burst 1000] [--window 1] [--only allocs|cpu]
//   valgrind --tool=callgrind --smc-check=all-non-file bun bench/direct-allocs.ts --only cpu --rounds 1 --messages 10000   # and 30000

import { heapStats } from 'bun:jsc';
import { parseArgs } from 'node:util';
import { Conn } from '../src/server/connection.ts';
import { handleLine, makeHandlers } from '../src/server/dispatch.ts';
import { startSession } from '../src/server/session.ts';
import { DEFAULT_CONFIG, ServerState } from '../src/server/state.ts';
import type { Transport } from '../src/server/transport/transport.ts';
import { SqliteAsyncStore } from '../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { TurnFlusher } from '../src/util/outbox.ts';

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    messages: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    burst: { type: 'string', default: '1000' },
    // Messages a turn before the recipient acks the last of them (cumulatively).
    window: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});
const WINDOW = Number(flags.window);

const flusher = new TurnFlusher();
// No rate limit (the bench sends faster than a user may); everything else as a real server's.
const config = { ...DEFAULT_CONFIG, blockDurationMs: 60_000, timeoutMs: 3_600_000, rateLimit: 0 };
const state = await ServerState.open(config, new SqliteAsyncStore(new SqliteStore(':memory:')), new Map([['alice', 'x'], ['bob', 'x']]), Date.now, () => {}, () => flusher.request());
flusher.beforeFlush(() => void state.offline.flush());
const handlers = makeHandlers(() => Promise.resolve(''));

let bytes = 0;
const transport: Transport = {
  kind: 'tcp',
  remoteAddress: '127.0.0.1',
  write: (data) => {
    const n = typeof data === 'string' ? data.length : data.byteLength;
    bytes += n;
    return n;
  },
  end: () => {},
  terminate: () => {},
  bufferedAmount: () => 0,
};
const alice = new Conn(transport, '127.0.0.1', flusher, config.outboxLimit);
const bob = new Conn(transport, '127.0.0.1', flusher, config.outboxLimit);
await startSession(state, alice, 'alice', () => {});
await startSession(state, bob, 'bob', () => {});
flusher.run();
await state.offline.flush();

// Distinct request lines, as a client's (its tags count up); made before any measurement.
const requests = Array.from({ length: 4096 }, (_, i) => `#${i} message bob ${1795243297994000 + i} ${'x'.repeat(23)}`);
const bobSession = bob.session!;

/**
 * `count` messages alice -> bob, WINDOW a turn, each turn's last acked by bob. A turn ends with
 * flusher.run() here, as a server's ends with the flusher's setImmediate (which still runs later,
 * finding nothing to do: the `Immediate` a turn in the counts is the server's too).
 */
function drive(count: number): void {
  for (let i = 0; i < count; i += WINDOW) {
    for (let j = i; j < i + WINDOW; j++) handleLine(state, handlers, alice, requests[j & 4095] as string);
    flusher.run();
    handleLine(state, handlers, bob, `ack ${bobSession.maxSentId}`);
    flusher.run();
  }
}

/** Lets the immediates queued meanwhile run (they would pile up over a long run). */
const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

async function allocs(burst: number): Promise<{ perMessage: number; byType: Record<string, number> }> {
  drive(burst); // warm: the same code paths, compiled
  await yieldTurn();
  Bun.gc(true);
  const before = heapStats();
  drive(burst);
  const after = heapStats();
  const byType: Record<string, number> = {};
  let total = 0;
  for (const [type, n] of Object.entries(after.objectTypeCounts)) {
    const d = (n - (before.objectTypeCounts[type] ?? 0)) / burst;
    total += d;
    if (Math.abs(d) >= 0.01) byType[type] = Math.round(d * 100) / 100;
  }
  await yieldTurn();
  return { perMessage: Math.round(total * 100) / 100, byType };
}

async function cpuNs(count: number): Promise<number> {
  const start = process.cpuUsage();
  for (let done = 0; done < count; done += 1000) {
    drive(Math.min(1000, count - done));
    await yieldTurn();
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / count;
}

const out: Record<string, unknown> = { window: WINDOW };
if (flags.only === undefined || flags.only === 'allocs') {
  const burst = Number(flags.burst);
  const half = await allocs(burst / 2);
  const full = await allocs(burst);
  out.objectsPerMessage = { [burst / 2]: half.perMessage, [burst]: full.perMessage };
  out.byType = full.byType;
}
if (flags.only === undefined || flags.only === 'cpu') {
  let best = Infinity;
  for (let r = 0; r < Number(flags.rounds); r++) best = Math.min(best, await cpuNs(Number(flags.messages)));
  out.messages = Number(flags.messages);
  out.cpuNsPerMessage = Math.round(best);
}
// Every message must have been answered `delivered`, and nothing left waiting.
out.unackedLeft = bobSession.firstUnacked !== undefined;
out.bytesWritten = bytes;
console.log(JSON.stringify(out, null, 1));
process.exit(0);

// Preloaded into a bench process (server, relay or load generator) when BENCH_STALLS=<dir> is set
// (bench/lib/procs.ts adds `--preload` then): a 1 ms interval timer whose lateness is how long the
// event loop was busy (a long turn, a collection, a blocking call). It keeps every tick's time (so
// that the reader can take the measured window only) and, for the long gaps (>= 4 ms), the JS heap
// size before and after, so that a gap in which the heap shrank is known to hold a collection. Written as JSON to
// <dir>/<role>-<pid>.json when the process exits; bench/stalls.ts reads them.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { heapSize } from 'bun:jsc';

const dir = process.env.BENCH_STALLS;
if (dir) {
  const role = process.argv.some((a) => a.endsWith('worker.ts')) ? 'worker' : process.argv.some((a) => a.endsWith('relay.ts')) ? 'relay' : 'server';
  /** Wall-clock ms of each tick (preallocated: the probe must not make garbage of its own). */
  const at = new Float64Array(2_000_000);
  const long: { at: number; gap: number; heapBefore: number; heapAfter: number }[] = [];
  let last = performance.now();
  let lastHeap = heapSize();
  let ticks = 0;
  setInterval(() => {
    const now = performance.now();
    const gap = now - last;
    const heap = heapSize();
    if (ticks < at.length) at[ticks++] = performance.timeOrigin + now;
    if (gap >= 4 && long.length < 100_000) long.push({ at: performance.timeOrigin + now, gap, heapBefore: lastHeap, heapAfter: heap });
    last = now;
    lastHeap = heap;
  }, 1);
  process.on('exit', () => {
    writeFileSync(join(dir, `${role}-${process.pid}.json`), JSON.stringify({ role, pid: process.pid, ticks: Array.from(at.subarray(0, ticks)), long }));
  });
}

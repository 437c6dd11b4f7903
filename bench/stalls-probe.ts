// Preloaded into a bench process (server, relay or load generator) when BENCH_STALLS=<dir> is set
// (bench/lib/procs.ts adds `--preload` then): a 1 ms interval timer whose lateness is how long the
// event loop was busy (a long turn, a collection, a blocking call). It keeps every tick's time (so
// that the reader can take the measured window only) and, for the long gaps (>= 4 ms), the JS heap
// size before and after, so that a gap in which the heap shrank is known to hold a collection, and
// how much of the gap the thread spent on a CPU and runnable but waiting for one (the kernel's
// /proc/thread-self/schedstat, read every tick): the rest of a gap it was asleep. Written as JSON to
// <dir>/<role>-<pid>.json when the process exits; bench/stalls.ts reads them.

import { openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { heapSize } from 'bun:jsc';

const dir = process.env.BENCH_STALLS;
if (dir) {
  const role = process.argv.some((a) => a.endsWith('worker.ts')) ? 'worker' : process.argv.some((a) => a.endsWith('relay.ts')) ? 'relay' : 'server';
  /** Wall-clock ms of each tick (preallocated: the probe must not make garbage of its own). */
  const at = new Float64Array(2_000_000);
  const long: { at: number; gap: number; heapBefore: number; heapAfter: number; onCpu: number; waiting: number }[] = [];
  const sched = openSync('/proc/thread-self/schedstat', 'r');
  const buf = Buffer.alloc(128);
  /** [ns on a CPU, ns runnable and waiting] of this (the JS) thread so far. */
  const readSched = (): [number, number] => {
    const n = readSync(sched, buf, 0, 128, 0);
    const [cpu = '0', wait = '0'] = buf.toString('latin1', 0, n).split(' ');
    return [Number(cpu), Number(wait)];
  };
  let [lastCpu, lastWait] = readSched();
  let last = performance.now();
  let lastHeap = heapSize();
  let ticks = 0;
  setInterval(() => {
    const now = performance.now();
    const gap = now - last;
    const heap = heapSize();
    const [cpu, wait] = readSched();
    if (ticks < at.length) at[ticks++] = performance.timeOrigin + now;
    if (gap >= 4 && long.length < 100_000) long.push({ at: performance.timeOrigin + now, gap, heapBefore: lastHeap, heapAfter: heap, onCpu: (cpu - lastCpu) / 1e6, waiting: (wait - lastWait) / 1e6 });
    last = now;
    lastHeap = heap;
    lastCpu = cpu;
    lastWait = wait;
  }, 1);
  process.on('exit', () => {
    writeFileSync(join(dir, `${role}-${process.pid}.json`), JSON.stringify({ role, pid: process.pid, ticks: Array.from(at.subarray(0, ticks)), long }));
  });
}

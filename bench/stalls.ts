// What stalls the event loop under B2's load (1,000 users in pairs, 10,000 msgs/s offered, a pacer
// sending round-robin every millisecond): runs the server (or the bare relay, --relay) with
// bench/stalls-probe.ts preloaded into it and into the load generator, and BUN_JSC_logGC=1 on both,
// then prints for each process the distribution of gaps between two ticks of a 1 ms timer over the
// measured seconds (a gap of 12 ms is a turn, or a collection, that held the loop 11 ms), how many
// long gaps held a collection (the JS heap shrank across them), how much of them the JS thread was
// on a CPU or runnable but waiting for one, the collections' own pause times from JSC's log, each
// thread's CPU time over the run, and the latency the generator recorded. docs/PERFORMANCE.md
// ("What stalls a turn at 10,000 msgs/s") has what it found.
//
//   bun bench/stalls.ts [--relay] [--pin] [--rate 10000] [--seconds 10] [--users 1000] [--rounds 1]
//
// --pin: the server's threads on CPU 1 and the generator's on CPU 0 (taskset).
// --server-env NAME=VALUE (repeatable): in the server's environment only, e.g. MIMALLOC_PURGE_DELAY=-1.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from './lib/clock.ts';
import { decodeHistograms, fmt, makeKit, names } from './lib/kit.ts';
import { startTarget, type Worker } from './lib/procs.ts';

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    relay: { type: 'boolean', default: false },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '1' },
    pin: { type: 'boolean', default: false },
    'server-env': { type: 'string', multiple: true },
  },
});
const rate = Number(flags.rate);
const seconds = Number(flags.seconds);
const users = Number(flags.users);

const workDir = mkdtempSync(join(os.tmpdir(), 'chat-stalls-'));
const log = (line: string) => console.error(`[stalls] ${line}`);
const kit = makeKit({ workDir, warmupMs: 0, seconds: 0, bodyChars: 40, loginConcurrency: 100, serverTimeoutSeconds: 3600, profileDir: undefined, log });
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Probe { role: string; pid: number; ticks: number[]; long: { at: number; gap: number; heapBefore: number; heapAfter: number; onCpu: number; waiting: number }[] }

/** JSC's GC log lines: `[GC<..>: START M 9125kb => EdenCollection, ... p=<pause>ms ...` and `Full sweep: ... <ms>ms`. */
function gcPauses(file: string): { eden: number[]; full: number[]; sweeps: number[] } {
  const out = { eden: [] as number[], full: [] as number[], sweeps: [] as number[] };
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return out; }
  for (const line of text.split('\n')) {
    const start = /START .*=> (\w+)Collection.*p=([\d.]+)ms/.exec(line);
    if (start) (start[1] === 'Eden' ? out.eden : out.full).push(Number(start[2]));
    const sweep = /Full sweep: .*, ([\d.]+)ms/.exec(line);
    if (sweep) out.sweeps.push(Number(sweep[1]));
  }
  return out;
}

const schedstat = (pid: number) => readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
/** CPU ticks (1/100 s, user + system) of each thread of a process, by `name/tid`. */
function threadTimes(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}/${tid}`, Number(f[11]) + Number(f[12]));
    } catch {}
  }
  return out;
}
const q = (sorted: number[], p: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) : 0);
const dist = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `n ${s.length}, sum ${fmt(s.reduce((a, b) => a + b, 0), 1)} ms, p50 ${fmt(q(s, 0.5), 2)}, p99 ${fmt(q(s, 0.99), 2)}, max ${fmt(s.at(-1) ?? 0, 2)} ms`;
};

function report(p: Probe, from: number, to: number, gcLog: string): void {
  const gaps: number[] = [];
  for (let i = 1; i < p.ticks.length; i++) {
    const t = p.ticks[i] as number;
    if (t >= from && t <= to) gaps.push(t - (p.ticks[i - 1] as number));
  }
  const edges = [2, 4, 8, 16, 32, Infinity];
  const counts = edges.map(() => 0);
  const held = edges.map(() => 0);
  for (const g of gaps) {
    const b = edges.findIndex((e) => g < e);
    counts[b]!++;
    held[b]! += g;
  }
  const span = to - from;
  const long = p.long.filter((l) => l.at >= from && l.at <= to);
  const withGc = long.filter((l) => l.heapAfter < l.heapBefore);
  const big = long.filter((l) => l.gap >= 8);
  const bigGc = big.filter((l) => l.heapAfter < l.heapBefore);
  const sorted = [...gaps].sort((a, b) => a - b);
  log(`${p.role} (pid ${p.pid}): ${fmt(gaps.length)} ticks over ${fmt(span / 1000, 1)} s; gap p50 ${fmt(q(sorted, 0.5), 2)} p99 ${fmt(q(sorted, 0.99), 2)} p99.9 ${fmt(q(sorted, 0.999), 2)} max ${fmt(sorted.at(-1) ?? 0, 1)} ms`);
  log(`  gaps by length (ms): ${edges.map((e, i) => `<${e === Infinity ? 'inf' : e}: ${counts[i]} (${fmt(((held[i] as number) / span) * 100, 1)} % of the time)`).join(', ')}`);
  log(`  gaps >= 4 ms: ${long.length}, of which the heap shrank across ${withGc.length}; >= 8 ms: ${big.length}, with a collection ${bigGc.length}`);
  // Where a long gap's time went: on a CPU (a long turn: work), waiting for a CPU (the scheduler), or asleep.
  const sum = (xs: typeof long, f: (l: (typeof long)[number]) => number) => xs.reduce((a, l) => a + f(l), 0);
  for (const [label, xs] of [['>= 4 ms', long], ['>= 8 ms', big]] as const) {
    const total = sum(xs, (l) => l.gap);
    if (total > 0) log(`  gaps ${label} (${fmt(total, 0)} ms in all): on a CPU ${fmt((sum(xs, (l) => l.onCpu) / total) * 100, 0)} %, runnable but waiting for a CPU ${fmt((sum(xs, (l) => l.waiting) / total) * 100, 0)} %, asleep the rest`);
  }
  const biggest = [...long].sort((x, y) => y.gap - x.gap).slice(0, 5);
  log(`  longest: ${biggest.map((l) => `${fmt(l.gap, 1)} ms (cpu ${fmt(l.onCpu, 1)}, wait ${fmt(l.waiting, 1)})`).join(', ')}`);
  // The server's timer wheel advances every 100 ms of wall time (src/server/server.ts): a stall it
  // causes ends within a few ms after a multiple of 100 ms.
  const phase = [0, 0, 0, 0, 0];
  for (const l of long) phase[Math.min(4, Math.floor(((l.at - l.gap) % 100) / 20))]!++;
  log(`  gaps >= 4 ms by where they start within each 100 ms of wall time (0-20, 20-40, ... ms): ${phase.join(' / ')}`);
  const gc = gcPauses(gcLog);
  log(`  JSC collections over the whole life: eden ${dist(gc.eden)}; full ${dist(gc.full)}; full sweeps ${dist(gc.sweeps)}`);
}

async function round(relay: boolean): Promise<void> {
  const stallsDir = join(workDir, `probe-${Date.now()}`);
  mkdirSync(stallsDir);
  process.env.BENCH_STALLS = stallsDir;
  process.env.BUN_JSC_logGC = '1';
  const { dir, credentials } = kit.freshDir(users);
  const serverEnv = (flags['server-env'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const);
  for (const [k, v] of serverEnv) process.env[k] = v;
  const target = await startTarget(relay ? 'relay' : 'server', { dir, credentials, timeoutSeconds: 3600 });
  for (const [k] of serverEnv) delete process.env[k];
  let from = 0;
  let to = 0;
  try {
    const { workers } = await kit.logIn(target, names(0, users), users, false, 'st');
    try {
      if (!relay) await kit.settle(workers, (users * (users - 1)) / 2, 600_000);
      await sleep(2000); // the login storm's garbage
      const pids = [target.pid, (workers[0] as Worker).pid];
      if (flags.pin) for (const [i, pid] of pids.entries()) Bun.spawnSync(['taskset', '-a', '-p', '-c', String(1 - i), String(pid)], { stdout: 'ignore' });
      const threads0 = pids.map(threadTimes);
      const sched0 = pids.map(schedstat);
      const r = await (workers[0] as Worker).call<{ histogram: string; drained: boolean }>('latency', { rate, seconds, bodyChars: 40 });
      // The call is 1 s of warm-up, `seconds` paced, then the drain (a few ms): the measured window ends about now.
      to = Date.now();
      from = to - seconds * 1000;
      const sched1 = pids.map(schedstat);
      const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      log(`RSS at the end of the run: server ${fmt(rss(target.pid), 1)} MiB, generator ${fmt(rss(pids[1]!), 1)} MiB`);
      // /proc/<pid>/schedstat (the main thread, which runs JS): ns on a CPU, ns runnable but waiting for one, time slices.
      for (const [i, who] of ['server', 'worker'].entries()) {
        const d = (sched1[i] as number[]).map((v, j) => v - (sched0[i] as number[])[j]!);
        log(`${who} main thread over the run: on a CPU ${fmt(d[0]! / 1e6, 0)} ms, runnable but waiting for a CPU ${fmt(d[1]! / 1e6, 0)} ms over ${fmt(d[2]!)} slices`);
      }
      for (const [i, who] of ['server', 'worker'].entries()) {
        const t1 = threadTimes(pids[i]!);
        const busy = [...t1].map(([k, v]) => [k, v - (threads0[i]!.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
        log(`${who} threads' CPU over the run (ms): ${busy.map(([k, v]) => `${k} ${fmt(v * 10, 0)}`).join(', ')}`);
      }
      const h = decodeHistograms([r.histogram]);
      log(`${relay ? 'relay' : 'server'} at ${fmt(rate)}/s for ${seconds} s: latency p50 ${fmt(h.p50, 2)} p99 ${fmt(h.p99, 2)} p99.9 ${fmt(h.p999, 2)} max ${fmt(h.max, 1)} ms${r.drained ? '' : ' (not drained)'}; load ${loadavg()}`);
    } finally {
      await kit.exitAll(workers);
    }
  } finally {
    await target.stop();
    delete process.env.BENCH_STALLS;
    delete process.env.BUN_JSC_logGC;
  }
  await sleep(200);
  const files = readdirSync(stallsDir).sort();
  const workerLog = join(stallsDir, files.find((f) => f.startsWith('worker-') && f.endsWith('.log')) ?? 'none');
  const probes: Probe[] = [];
  for (const f of files.filter((f) => f.endsWith('.json'))) {
    const p = JSON.parse(readFileSync(join(stallsDir, f), 'utf8')) as Probe;
    report(p, from, to, p.role === 'worker' ? workerLog : join(dir, `${p.role === 'relay' ? 'relay' : 'server'}.log`));
    probes.push(p);
  }
  // Do the two processes stall at the same moments (the machine: both descheduled, or one waiting on the other)?
  const [a, b] = probes.map((p) => p.long.filter((l) => l.at >= from && l.at <= to));
  if (a && b) {
    const overlaps = (x: Probe['long'][number], ys: Probe['long']) => ys.some((y) => y.at - y.gap < x.at && x.at - x.gap < y.at);
    log(`  long gaps (>= 4 ms) that overlap one in the other process: ${probes[0]!.role} ${a.filter((x) => overlaps(x, b)).length} of ${a.length}, ${probes[1]!.role} ${b.filter((x) => overlaps(x, a)).length} of ${b.length}`);
  }
}

for (let i = 0; i < Number(flags.rounds); i++) await round(flags.relay);
rmSync(workDir, { recursive: true, force: true });

// `bun bench/floors.ts [--runs N] [--quick] [--seconds S] [--users N] [--only broadcast|direct] [--no-chat] [--batched]`
//
// Floors: what the cheapest possible program costs on this machine for the work of issue 14's
// targets, beside chat, so that a target below the floor is seen to be out of reach for any server
// of that kind here (one socket per user, loopback TCP, one process).
//
// - Broadcast (B4): one process holds N (10,000) accepted loopback connections and writes the same
//   ~120-byte line to each, in one loop, 20 times, 200 ms apart; the readers are other processes
//   (2 of 5,000, as in chat's B4) that read everything and note when the last copy of each
//   broadcast arrived, on the shared clock. Server CPU per broadcast: getrusage around the loop,
//   and /proc over the whole window (less the idle). Done by a C program (bench/floors/broadcast.c,
//   compiled into /tmp now; skipped with a reason without gcc; once in one thread, once with the
//   loop split over 2 threads, for the time to the last copy) and by bare Bun
//   (bench/floors/broadcast-server.ts: socket.write of a string, as chat does, and of bytes
//   encoded once). chat's own B4 runs beside them (`bun bench/run.ts broadcast`, a subprocess).
// - Direct messages (C1): bench/floors/min-server.ts, chat's protocol for the direct scenario and
//   nothing else, under the direct rows of `bun run bench compare` (the same harness, bench/compare.ts,
//   fresh server per group), beside the bare relay and chat in the same run. With --batched, also
//   min-server's `batched` variant (one `delivered` line for what one ack covers from one sender, a
//   protocol change tried on the floor), beside min in each run, in turn after it and before it
//   (odd runs min first, even runs min-batched first): the two alternate in the same minutes.
//
// Each measurement runs --runs times (default 2); the table shows the median and the range.
// Writes bench/results/<date>-floors-<commit>.json.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSystems, type CompareParams, type System, type SystemResult } from './compare.ts';
import { sleep } from './lib/clock.ts';
import { fmt, makeKit } from './lib/kit.ts';
import { CpuMeter } from './lib/proc.ts';

const ROOT = join(import.meta.dir, '..');

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    users: { type: 'string' },
    only: { type: 'string' },
    'no-chat': { type: 'boolean', default: false },
    batched: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (flags.help) {
  console.log(`bun bench/floors.ts [--runs N] [--quick] [--seconds S] [--users N] [--only broadcast|direct] [--no-chat] [--batched] [--out FILE]
  --runs      times each measurement runs (default 2): the table gives the median and the range
  --quick     1,000 broadcast readers, the 100-user direct row only, 2 s runs
  --seconds   measured seconds per direct-message run (default 5)
  --users     broadcast recipients (default 10,000)
  --only      one of the two floors
  --no-chat   leave chat out (its B4 takes a minute: 10,000 logins and their presence)
  --batched   direct floor: also min-server with one \`delivered\` line a sender an ack (system min-batched)`);
  process.exit(0);
}

const quick = flags.quick;
const runs = Number(flags.runs ?? 2);
const P = {
  runs,
  broadcast: { users: Number(flags.users ?? (quick ? 1000 : 10_000)), readerProcs: 2, count: quick ? 5 : 20, intervalMs: 200, bytes: 120 },
  direct: {
    seconds: Number(flags.seconds ?? (quick ? 2 : 5)),
    warmupMs: quick ? 500 : 1000,
    cases: quick ? [{ users: 100, window: 16 }] : [{ users: 100, window: 16 }, { users: 1000, window: 16 }, { users: 1000, window: 64 }],
  },
  bodyChars: 40,
};
const withChat = !flags['no-chat'];
const withBatched = flags.batched;
const startedAt = new Date();
const workDir = mkdtempSync(join(os.tmpdir(), 'chat-floors-'));

function log(line: string): void {
  console.error(`[floors ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(5)} s] ${line}`);
}

const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// ---- child processes that talk in lines over stdin/stdout -----------------------------------------

class LineProc {
  readonly proc;
  private buf = '';
  private readonly queue: string[] = [];
  private readonly waiters: ((line: string | undefined) => void)[] = [];
  private ended = false;

  constructor(cmd: string[]) {
    this.proc = Bun.spawn(cmd, { cwd: ROOT, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
    void this.pump();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.proc.stdout) {
      this.buf += decoder.decode(chunk, { stream: true });
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const waiter = this.waiters.shift();
        if (waiter) waiter(line);
        else this.queue.push(line);
      }
    }
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  async next(timeoutMs: number, what: string): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    if (this.ended) throw new Error(`${what}: the process ended`);
    let timer: Timer | undefined;
    const line = await Promise.race([
      new Promise<string | undefined>((resolve) => this.waiters.push(resolve)),
      new Promise<undefined>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    if (line === undefined) throw new Error(`${what}: no line within ${timeoutMs} ms (or the process ended)`);
    return line;
  }

  send(line: string): void {
    this.proc.stdin.write(`${line}\n`);
    void this.proc.stdin.flush();
  }

  async stop(): Promise<void> {
    try {
      this.send('exit');
      void this.proc.stdin.end();
    } catch {
      // already gone
    }
    const exited = await Promise.race([this.proc.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!exited) this.proc.kill('SIGKILL');
  }
}

// ---- the broadcast floor -------------------------------------------------------------------------

/** c-2: the C loop split over 2 threads (one per core). */
type BroadcastKind = 'c' | 'c-2' | 'bun-string' | 'bun-bytes';

interface BroadcastResult {
  kind: BroadcastKind;
  users: number;
  count: number;
  complete: boolean;
  /** Per broadcast: getrusage (user + system) around the write loop, ms. */
  loopCpuMs: number[];
  loopKernelShare: number;
  loopWallMs: number[];
  /** Per broadcast: the server's CPU from /proc over the whole window (sends and 500 ms after) less the idle, ms. */
  windowCpuMs: number;
  /** Per broadcast: from the start of the loop to the last copy's arrival, ms. */
  lastCopyMs: number[];
  shortWrites: number;
  errors: number;
  loadAverage: string;
}

function compileC(): { binary?: string; reason?: string } {
  const gcc = Bun.which('gcc') ?? Bun.which('cc');
  if (!gcc) return { reason: 'no C compiler (gcc or cc) on the PATH' };
  const binary = join(workDir, 'broadcast');
  const r = Bun.spawnSync([gcc, '-O2', '-pthread', '-o', binary, join(ROOT, 'bench/floors/broadcast.c')]);
  if (!r.success) return { reason: `gcc failed: ${r.stderr.toString().trim()}` };
  return { binary };
}

async function broadcastFloor(kind: BroadcastKind, cBinary: string | undefined): Promise<BroadcastResult> {
  const { users, readerProcs, count, intervalMs, bytes } = P.broadcast;
  const cmd = kind === 'c' || kind === 'c-2' ? [cBinary as string, String(users), kind === 'c-2' ? '2' : '1'] : [process.execPath, join(ROOT, 'bench/floors/broadcast-server.ts'), String(users), kind === 'bun-bytes' ? 'bytes' : 'string'];
  const server = new LineProc(cmd);
  const readers: LineProc[] = [];
  try {
    const port = Number(/listening (\d+)/.exec(await server.next(10_000, 'server start'))?.[1]);
    for (let i = 0; i < readerProcs; i++) {
      const n = Math.floor(users / readerProcs) + (i < users % readerProcs ? 1 : 0);
      readers.push(new LineProc([process.execPath, join(ROOT, 'bench/floors/broadcast-clients.ts'), String(port), String(n)]));
    }
    await Promise.all(readers.map((r) => r.next(60_000, 'readers connecting')));
    await server.next(30_000, 'server accepting');
    // The server's CPU with nothing to do, over as long a window as the broadcasts' (Bun's timers, its collector).
    const windowMs = count * intervalMs + 500;
    await sleep(500);
    const idle = new CpuMeter(server.proc.pid);
    await sleep(windowMs);
    const idleShare = idle.read();
    const meter = new CpuMeter(server.proc.pid);
    const t0 = performance.now();
    server.send(`go ${count} ${intervalMs} ${bytes}`);
    const lines: { i: number; t0: number; loopMs: number; userUs: number; sysUs: number; short: number; errors: number }[] = [];
    for (;;) {
      const line = await server.next(count * intervalMs + 30_000, 'broadcasts');
      if (line === 'done') break;
      lines.push(JSON.parse(line));
    }
    await sleep(500);
    const elapsedMs = performance.now() - t0;
    const cpu = meter.read();
    const load = loadAverage();
    for (const r of readers) r.send('report');
    const reports = await Promise.all(readers.map(async (r) => JSON.parse(await r.next(10_000, 'reader report')) as { counts: (number | null)[]; last: (number | null)[] }));
    const loopCpuMs = lines.map((l) => (l.userUs + l.sysUs) / 1000);
    const sys = lines.reduce((s, l) => s + l.sysUs, 0);
    const all = lines.reduce((s, l) => s + l.userUs + l.sysUs, 0);
    const lastCopyMs = lines.map((l) => Math.max(...reports.map((r) => r.last[l.i] ?? Infinity)) - l.t0);
    const complete = lines.length === count && lines.every((l) => reports.reduce((s, r) => s + (r.counts[l.i] ?? 0), 0) === users);
    return {
      kind,
      users,
      count,
      complete,
      loopCpuMs,
      loopKernelShare: all > 0 ? sys / all : 0,
      loopWallMs: lines.map((l) => l.loopMs),
      windowCpuMs: Math.max(0, (cpu - idleShare) * elapsedMs) / count,
      lastCopyMs,
      shortWrites: lines.reduce((s, l) => s + l.short, 0),
      errors: lines.reduce((s, l) => s + l.errors, 0),
      loadAverage: load,
    };
  } finally {
    await Promise.all([server, ...readers].map((p) => p.stop()));
  }
}

/** chat's own B4 (bench/run.ts's broadcast scenario, in a subprocess: its command line is its own). */
async function chatBroadcast(): Promise<{ serverCpuMs: number; lastCopyP50Ms: number; lastCopyBestMs: number; lastCopyWorstMs: number; complete: boolean; kernelShare: number; loadAverage: string } | undefined> {
  const out = join(workDir, `chat-b4-${Date.now()}.json`);
  const proc = Bun.spawn([process.execPath, join(ROOT, 'bench/run.ts'), 'broadcast', '--users', String(P.broadcast.users + 1), '--out', out], { cwd: ROOT, stdout: 'ignore', stderr: 'inherit' });
  await proc.exited;
  const load = loadAverage();
  try {
    const b = JSON.parse(readFileSync(out, 'utf8')).details.broadcast;
    return { serverCpuMs: b.serverCpuMsPerBroadcast, lastCopyP50Ms: median(b.lastCopyMs), lastCopyBestMs: Math.min(...b.lastCopyMs), lastCopyWorstMs: b.worstLastCopyMs, complete: b.complete, kernelShare: b.serverCpuKernel / b.serverCpu, loadAverage: load };
  } catch (err) {
    log(`chat B4: no result (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  }
}

// ---- the direct-message floor --------------------------------------------------------------------

/** One kit for every run: it numbers the servers' directories. */
const kit = makeKit({ workDir, warmupMs: P.direct.warmupMs, seconds: P.direct.seconds, bodyChars: P.bodyChars, loginConcurrency: 100, serverTimeoutSeconds: 600, profileDir: undefined, log });

async function directFloor(run: number): Promise<{ results: Partial<Record<System, SystemResult>>; loadAverage: string }> {
  // Only the direct rows: latency and broadcast for no group (users 0).
  const p: CompareParams = { cases: P.direct.cases, latency: { users: 0, rate: 0, seconds: 0 }, broadcast: { users: 0, count: 0, intervalMs: 0 }, bodyChars: P.bodyChars };
  const mins: System[] = !withBatched ? ['min'] : run % 2 === 1 ? ['min', 'min-batched'] : ['min-batched', 'min'];
  const systems: System[] = ['relay', ...mins, ...(withChat ? (['chat'] as const) : [])];
  const results = await runSystems(kit, p, log, systems);
  return { results, loadAverage: loadAverage() };
}

// ---- summary -------------------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

/** Median of the runs' figures, and their range when there are several. */
function cell(xs: (number | undefined)[], digits = 0): string {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return '—';
  const m = fmt(median(v), digits);
  return v.length === 1 ? m : `${m} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})`;
}

function gitCommit(): { commit: string; dirty: boolean } {
  const rev = Bun.spawnSync(['git', 'rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  const status = Bun.spawnSync(['git', 'status', '--porcelain', '--untracked-files=no'], { cwd: ROOT });
  return { commit: rev.success ? rev.stdout.toString().trim() : 'unknown', dirty: status.stdout.toString().trim() !== '' };
}

// ---- the run -------------------------------------------------------------------------------------

const only = flags.only;
if (only !== undefined && only !== 'broadcast' && only !== 'direct') {
  console.error('floors: --only is broadcast or direct');
  process.exit(2);
}
const { commit, dirty } = gitCommit();
const cpus = os.cpus();
const fdLimit = Number(Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim());
const machine = { cores: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), bun: Bun.version, os: `${os.type()} ${os.release()}`, fdLimit };
log(`machine: ${machine.cores} cores (${machine.cpuModel}), Bun ${machine.bun}, fd limit ${fdLimit}; commit ${commit}${dirty ? ' (dirty)' : ''}; load average ${loadAverage()}`);
if (fdLimit < P.broadcast.users + 100) log(`the fd limit (${fdLimit}) is below ${P.broadcast.users} sockets in one process: raise it (ulimit -n) or pass --users`);

const skipped: Record<string, string> = {};
const broadcasts: BroadcastResult[] = [];
const chatB4: NonNullable<Awaited<ReturnType<typeof chatBroadcast>>>[] = [];
const directs: Awaited<ReturnType<typeof directFloor>>[] = [];
let failure: unknown;

try {
  const c = only === 'direct' ? {} : compileC();
  if (only !== 'direct' && !c.binary) {
    skipped.c = c.reason ?? 'not compiled';
    log(`broadcast floor in C skipped: ${skipped.c}`);
  }
  for (let run = 1; run <= runs; run++) {
    log(`run ${run} of ${runs} (load average ${loadAverage()})`);
    if (only !== 'direct') {
      const kinds: BroadcastKind[] = [...(c.binary ? (['c', 'c-2'] as const) : []), 'bun-string', 'bun-bytes'];
      for (const kind of kinds) {
        const r = await broadcastFloor(kind, c.binary);
        broadcasts.push(r);
        const us = (median(r.loopCpuMs) * 1000) / r.users;
        log(`broadcast floor ${kind}, ${fmt(r.users)} recipients: loop CPU p50 ${median(r.loopCpuMs).toFixed(2)} ms (least ${Math.min(...r.loopCpuMs).toFixed(2)}) (${(r.loopKernelShare * 100).toFixed(0)} % kernel, ${us.toFixed(2)} µs a recipient), loop wall p50 ${median(r.loopWallMs).toFixed(2)} ms, window CPU ${r.windowCpuMs.toFixed(2)} ms each; last copy p50 ${median(r.lastCopyMs).toFixed(2)} ms, shortest ${Math.min(...r.lastCopyMs).toFixed(2)} ms, worst ${Math.max(...r.lastCopyMs).toFixed(2)} ms; all copies: ${r.complete}; short writes ${r.shortWrites}, errors ${r.errors}; load ${r.loadAverage}`);
      }
      if (withChat) {
        const r = await chatBroadcast();
        if (r) {
          chatB4.push(r);
          log(`chat B4, ${fmt(P.broadcast.users)} recipients: ${r.serverCpuMs.toFixed(2)} ms server CPU each (${(r.kernelShare * 100).toFixed(0)} % kernel), last copy p50 ${r.lastCopyP50Ms.toFixed(2)} ms, worst ${r.lastCopyWorstMs.toFixed(2)} ms; all copies: ${r.complete}; load ${r.loadAverage}`);
        }
      }
    }
    if (only !== 'broadcast') {
      const d = await directFloor(run);
      directs.push(d);
      for (const [system, r] of Object.entries(d.results)) {
        for (const x of r.direct) log(`direct floor ${system}, ${x.users} users, ${x.window} in flight: ${fmt(x.perSecond)} msg/s, ${fmt(x.perServerCpuSecond)} per server CPU-second (server ${(x.serverCpu * 100).toFixed(0)} %, kernel ${(x.serverKernel * 100).toFixed(0)} %; generator ${(x.generatorCpu * 100).toFixed(0)} %)${x.drained ? '' : '; NOT drained'}`);
      }
      log(`direct floor run done; load ${d.loadAverage}`);
    }
  }
} catch (err) {
  failure = err;
  log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}

// The table: floor measured vs the target vs chat.
const table: string[][] = [['what', 'target', 'C floor', 'Bun floor', ...(withBatched ? ['Bun floor, batched delivered'] : []), 'bare relay (Bun)', 'chat']];
const of = (kind: BroadcastKind) => broadcasts.filter((b) => b.kind === kind);
const cCell = (f: (b: BroadcastResult) => number, digits: number) => (skipped.c ? 'skipped' : `${cell(of('c').map(f), digits)}; 2 threads: ${cell(of('c-2').map(f), digits)}`);
/** The batched column has no broadcast figures. */
const batchedGap = withBatched ? ['—'] : [];
if (broadcasts.length > 0) {
  const n = fmt(P.broadcast.users);
  const bunCell = (f: (b: BroadcastResult) => number, digits: number) => `${cell(of('bun-string').map(f), digits)}; bytes: ${cell(of('bun-bytes').map(f), digits)}`;
  const chatCell = (f: (b: (typeof chatB4)[number]) => number, digits: number) => (withChat ? cell(chatB4.map(f), digits) : 'not run');
  table.push([`B4 broadcast to ${n}: server CPU each, write loop (ms)`, '<= 20', cCell((b) => median(b.loopCpuMs), 2), bunCell((b) => median(b.loopCpuMs), 2), ...batchedGap, '—', '—']);
  table.push([`  same, the least of the ${P.broadcast.count} broadcasts (ms)`, '<= 20', cCell((b) => Math.min(...b.loopCpuMs), 2), bunCell((b) => Math.min(...b.loopCpuMs), 2), ...batchedGap, '—', '—']);
  table.push([`B4 broadcast to ${n}: server CPU each, whole window from /proc (ms)`, '<= 20', cCell((b) => b.windowCpuMs, 1), bunCell((b) => b.windowCpuMs, 1), ...batchedGap, '—', chatCell((b) => b.serverCpuMs, 1)]);
  table.push([`  same, per recipient (µs; floors: write loop, chat: window)`, '<= 2', cCell((b) => (median(b.loopCpuMs) * 1000) / b.users, 2), bunCell((b) => (median(b.loopCpuMs) * 1000) / b.users, 2), ...batchedGap, '—', chatCell((b) => (b.serverCpuMs * 1000) / P.broadcast.users, 2)]);
  table.push([`  share of it in the kernel (%)`, '', cCell((b) => b.loopKernelShare * 100, 0), bunCell((b) => b.loopKernelShare * 100, 0), ...batchedGap, '—', chatCell((b) => b.kernelShare * 100, 0)]);
  table.push([`B4 broadcast to ${n}: time to the last copy, p50 (ms)`, '<= 50', cCell((b) => median(b.lastCopyMs), 1), bunCell((b) => median(b.lastCopyMs), 1), ...batchedGap, '—', chatCell((b) => b.lastCopyP50Ms, 1)]);
  table.push([`  same, the shortest of the ${P.broadcast.count} (ms)`, '<= 50', cCell((b) => Math.min(...b.lastCopyMs), 1), bunCell((b) => Math.min(...b.lastCopyMs), 1), ...batchedGap, '—', chatCell((b) => b.lastCopyBestMs, 1)]);
  table.push([`B4 broadcast to ${n}: time to the last copy, worst (ms)`, '<= 50', cCell((b) => Math.max(...b.lastCopyMs), 1), bunCell((b) => Math.max(...b.lastCopyMs), 1), ...batchedGap, '—', chatCell((b) => b.lastCopyWorstMs, 1)]);
}
for (const c of P.direct.cases) {
  if (directs.length === 0) break;
  const pick = (s: System) => directs.map((d) => d.results[s]?.direct.find((x) => x.users === c.users && x.window === c.window));
  const col = (s: System, f: (x: SystemResult['direct'][number]) => number, digits = 0) => (s === 'chat' && !withChat ? 'not run' : cell(pick(s).map((x) => (x ? f(x) : undefined)), digits));
  const isC1 = c.users === 1000;
  table.push([`${isC1 ? 'C1 ' : ''}${fmt(c.users)} users in pairs, ${c.window} in flight: msgs per server CPU-second`, isC1 ? '>= 500,000' : '', '—', col('min', (x) => x.perServerCpuSecond), ...(withBatched ? [col('min-batched', (x) => x.perServerCpuSecond)] : []), col('relay', (x) => x.perServerCpuSecond), col('chat', (x) => x.perServerCpuSecond)]);
  table.push([`  same: msgs/s`, '', '—', col('min', (x) => x.perSecond), ...(withBatched ? [col('min-batched', (x) => x.perSecond)] : []), col('relay', (x) => x.perSecond), col('chat', (x) => x.perSecond)]);
  table.push([`  same: server CPU (% of a core)`, '', '—', col('min', (x) => x.serverCpu * 100), ...(withBatched ? [col('min-batched', (x) => x.serverCpu * 100)] : []), col('relay', (x) => x.serverCpu * 100), col('chat', (x) => x.serverCpu * 100)]);
  table.push([`  same: of which in the kernel (% of a core)`, '', '—', col('min', (x) => x.serverKernel * 100), ...(withBatched ? [col('min-batched', (x) => x.serverKernel * 100)] : []), col('relay', (x) => x.serverKernel * 100), col('chat', (x) => x.serverKernel * 100)]);
  table.push([`  same: server CPU per message (µs)`, '', '—', col('min', (x) => 1e6 / x.perServerCpuSecond, 2), ...(withBatched ? [col('min-batched', (x) => 1e6 / x.perServerCpuSecond, 2)] : []), col('relay', (x) => 1e6 / x.perServerCpuSecond, 2), col('chat', (x) => 1e6 / x.perServerCpuSecond, 2)]);
}
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
const line = (row: string[]) => `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
const text = [line(table[0]!), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...table.slice(1).map(line)];
for (const [what, why] of Object.entries(skipped)) text.push(`(${what}: ${why})`);
console.log(`\nFloors (median of ${runs} run${runs === 1 ? '' : 's'}, range in brackets; C floor for B4: one thread, and the loop split over 2 threads; Bun floor for B4: socket.write of a string, and of bytes encoded once; for C1: bench/floors/min-server.ts):\n${text.join('\n')}`);

const seconds = (Date.now() - startedAt.getTime()) / 1000;
const date = startedAt.toISOString().slice(0, 16).replace(/[:T]/g, '-');
const file = flags.out ?? join(ROOT, 'bench/results', `${date}-floors-${commit}${quick ? '-quick' : ''}.json`);
if (!quick || flags.out) {
  writeFileSync(file, `${JSON.stringify({ date: startedAt.toISOString(), commit, dirty, machine, parameters: P, withChat, durationSeconds: seconds, loadAverageAtEnd: loadAverage(), error: failure ? String(failure) : undefined, skipped, table, broadcasts, chatBroadcast: chatB4, direct: directs }, null, 2)}\n`);
}
console.log(`\n${fmt(seconds)} s; load average at the end ${loadAverage()}${!quick || flags.out ? `; results: ${file}` : ''}`);
rmSync(workDir, { recursive: true, force: true });
process.exit(failure ? 1 : 0);

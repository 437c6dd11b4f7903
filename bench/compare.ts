// The `compare` scenario: the same load, from the same generator, on the bare relay, on a C IRC
// server (Debian's ngIRCd) and on chat, one after the other in one run, each on a fresh server.
// Direct messages between users in pairs (msgs/s and msgs per server CPU-second), latency at a
// fixed offered rate, and a broadcast to every other user (server CPU per broadcast, time to the
// last copy). Prints one table, relay | ngIRCd | chat, with the ratios chat/ngIRCd.
//
// What counts as "delivered" differs by protocol, and the table says so: on chat the sender's
// window opens at its `delivered` reply (the recipient acked); on the relay at a reply line the
// recipient writes itself; on IRC, which has no delivery confirmation, when the recipient (in the
// same generator process) has read the message: no reply crosses ngIRCd, the reading kindest to it.

import { sleep } from './lib/clock.ts';
import { decodeHistograms, fmt, names, type Kit } from './lib/kit.ts';
import { ngircdPath, startNgircd } from './lib/ngircd.ts';
import { CpuMeter } from './lib/proc.ts';
import { startTarget, type Target, type Worker } from './lib/procs.ts';

/**
 * min: bench/floors/min-server.ts, chat's protocol and nothing else; min-batched: the same with one
 * `delivered` line for what one ack covers from one sender (bench/floors.ts runs them; `compare` does not).
 */
export type System = 'relay' | 'ngircd' | 'min' | 'min-batched' | 'chat';

export interface CompareParams {
  /** Direct-message runs: users online (all in pairs, all sending), messages in flight per user. */
  cases: { users: number; window: number }[];
  /** Latency: offered total rate, over the users of the case with this many users. */
  latency: { users: number; rate: number; seconds: number };
  /** A broadcast (IRC: a channel message to #all, everyone joined) to users - 1 others. */
  broadcast: { users: number; count: number; intervalMs: number };
  bodyChars: number;
}

export interface SystemResult {
  direct: { users: number; window: number; perSecond: number; perServerCpuSecond: number; serverCpu: number; serverKernel: number; generatorCpu: number; drained: boolean }[];
  latency?: { rate: number; achieved: number; p50: number; p99: number; p999: number; max: number; serverCpu: number };
  broadcast?: { users: number; count: number; complete: boolean; serverCpuMs: number; idleCpuMsOverWindow: number; serverKernelShare: number; lastCopyP50Ms: number; lastCopyWorstMs: number };
}

export interface Comparison {
  systems: System[];
  skipped: Record<string, string>;
  results: Partial<Record<System, SystemResult>>;
  ratios: Record<string, number | null>;
  table: string[][];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

export async function scenarioCompare(kit: Kit, p: CompareParams, log: (line: string) => void): Promise<Comparison> {
  const systems: System[] = ['relay'];
  const skipped: Record<string, string> = {};
  const ngircd = ngircdPath();
  if (ngircd) systems.push('ngircd');
  else {
    skipped.ngircd = 'ngircd is not installed (Debian: apt-get install ngircd); the IRC reference is skipped';
    log(`compare: ${skipped.ngircd}`);
  }
  systems.push('chat');
  const results = await runSystems(kit, p, log, systems, ngircd);
  return summarise(p, systems, skipped, results);
}

/**
 * The runs themselves: for each system in turn, a fresh server per group of cases with the same
 * users. Latency and broadcast run where their `users` match a group (0: not at all).
 */
export async function runSystems(kit: Kit, p: CompareParams, log: (line: string) => void, systems: System[], ngircd?: string): Promise<Partial<Record<System, SystemResult>>> {
  const results: Partial<Record<System, SystemResult>> = {};
  const groups = [...new Set(p.cases.map((c) => c.users))];
  for (const system of systems) {
    const result: SystemResult = { direct: [] };
    for (const users of groups) {
      const target = await start(kit, system, users, ngircd);
      try {
        await runGroup(kit, p, log, system, target, users, result);
      } finally {
        await target.stop();
      }
    }
    results[system] = result;
  }
  return results;
}

async function start(kit: Kit, system: System, users: number, ngircd: string | undefined): Promise<Target> {
  const { dir, credentials } = kit.freshDir(system === 'chat' ? users : 0);
  if (system === 'relay' || system === 'min' || system === 'min-batched') return startTarget(system, { dir });
  if (system === 'ngircd') return startNgircd(ngircd as string, dir);
  return startTarget('server', { dir, credentials, timeoutSeconds: 600 });
}

async function runGroup(kit: Kit, p: CompareParams, log: (line: string) => void, system: System, target: Target, users: number, result: SystemResult) {
  const { workers } = await kit.logIn(target, names(0, users), users, false, `cmp-${system}-`);
  const worker = workers[0] as Worker;
  try {
    // chat: let the presence flood of the logins settle first (n(n-1)/2 names), so it is not measured.
    if (system === 'chat') await kit.settle(workers, (users * (users - 1)) / 2, 60_000);
    for (const c of p.cases.filter((x) => x.users === users)) {
      const r = await kit.runDirect(target, worker, users, c.window);
      log(`compare ${system} ${users} users, ${c.window} in flight: ${fmt(r.receivedPerSecond)} msg/s, ${fmt(r.perServerCpuSecond)} per server CPU-second (server CPU ${(r.cpu.server * 100).toFixed(0)} %, kernel ${(r.cpu.serverKernel * 100).toFixed(0)} %; generator ${(r.cpu.generator * 100).toFixed(0)} %)`);
      if (!r.drained) log(`  ${system}: not every message was answered within 15 s of the end`);
      result.direct.push({ users, window: c.window, perSecond: r.receivedPerSecond, perServerCpuSecond: r.perServerCpuSecond, serverCpu: r.cpu.server, serverKernel: r.cpu.serverKernel, generatorCpu: r.cpu.generator, drained: r.drained });
    }
    if (users === p.latency.users) {
      const meter = new CpuMeter(target.pid);
      const r = await worker.call<{ histogram: string; achieved: number; lastError: string }>('latency', { rate: p.latency.rate, seconds: p.latency.seconds, bodyChars: p.bodyChars });
      const h = decodeHistograms([r.histogram]);
      result.latency = { rate: p.latency.rate, achieved: r.achieved, p50: h.p50, p99: h.p99, p999: h.p999, max: h.max, serverCpu: meter.read() };
      log(`compare ${system} latency at ${fmt(p.latency.rate)}/s offered: p50 ${h.p50.toFixed(3)} p99 ${h.p99.toFixed(3)} p99.9 ${h.p999.toFixed(3)} ms`);
    }
    if (users === p.broadcast.users && system !== 'relay') result.broadcast = await broadcast(kit, p, log, system, target, workers);
  } finally {
    await kit.exitAll(workers);
  }
}

async function broadcast(kit: Kit, p: CompareParams, log: (line: string) => void, system: System, target: Target, workers: Worker[]) {
  const { users, count, intervalMs } = p.broadcast;
  if (system === 'ngircd') {
    // Everyone joins #all; each JOIN is shown to every member already in: n(n+1)/2 JOIN lines.
    await Promise.all(workers.map((w) => w.call('ircJoin')));
    const joined = await kit.settle(workers, (users * (users + 1)) / 2, 60_000);
    if (!joined.complete) log(`  ngircd: only ${joined.lines} of ${joined.expected} JOIN lines arrived`);
  }
  await Promise.all(workers.map((w) => w.call('broadcastListen')));
  // The server's CPU with nothing to do, over a window as long as the broadcasts' (timers, the
  // collector), before and after them; the smaller is subtracted (what came before may still be
  // the collector tidying up after the previous load). /proc counts in 10 ms ticks.
  const windowMs = count * intervalMs + 500;
  const idleShare = async () => {
    const idle = new CpuMeter(target.pid);
    await sleep(windowMs);
    return idle.read();
  };
  await sleep(1000);
  const idleBefore = await idleShare();
  const meter = new CpuMeter(target.pid);
  const t0 = performance.now();
  await (workers[0] as Worker).call('broadcastSend', { count, intervalMs, bodyChars: p.bodyChars });
  await sleep(500);
  const elapsedMs = performance.now() - t0;
  const cpu = meter.read();
  const kernelShare = cpu > 0 ? meter.lastSystem / cpu : 0;
  const idleCpuMs = Math.min(idleBefore, await idleShare()) * elapsedMs;
  // CPU over the whole window (sends, intervalMs apart, and 500 ms after), less the idle, per broadcast.
  const serverCpuMs = Math.max(0, cpu * elapsedMs - idleCpuMs) / count;
  const reports = await Promise.all(workers.map((w) => w.call<{ copies: [number, number, number][] }>('broadcastReport')));
  const perId = new Map<number, { n: number; maxUs: number }>();
  for (const r of reports) {
    for (const [id, n, maxUs] of r.copies) {
      const e = perId.get(id) ?? { n: 0, maxUs: 0 };
      e.n += n;
      e.maxUs = Math.max(e.maxUs, maxUs);
      perId.set(id, e);
    }
  }
  const last = [...perId.values()].map((e) => e.maxUs / 1000);
  const complete = perId.size === count && [...perId.values()].every((e) => e.n === users - 1);
  log(`compare ${system} broadcast to ${users - 1}: ${serverCpuMs.toFixed(2)} ms server CPU each (${(kernelShare * 100).toFixed(0)} % kernel), last copy p50 ${median(last).toFixed(2)} ms, worst ${Math.max(...last).toFixed(2)} ms; all copies: ${complete}`);
  return { users, count, complete, serverCpuMs, idleCpuMsOverWindow: idleCpuMs, serverKernelShare: kernelShare, lastCopyP50Ms: median(last), lastCopyWorstMs: Math.max(0, ...last) };
}

function summarise(p: CompareParams, systems: System[], skipped: Record<string, string>, results: Partial<Record<System, SystemResult>>): Comparison {
  const label: Record<System, string> = { relay: 'bare relay (ceiling)', ngircd: 'ngIRCd (C)', min: 'minimal chat', 'min-batched': 'minimal chat, batched delivered', chat: 'chat' };
  const all: System[] = ['relay', 'ngircd', 'chat'];
  const table: string[][] = [['measure', ...all.map((s) => label[s]), 'chat / ngIRCd']];
  const ratios: Record<string, number | null> = {};
  const cell = (s: System, f: (r: SystemResult) => number | undefined, digits: number) => {
    const r = results[s];
    const v = r ? f(r) : undefined;
    return v === undefined ? (s === 'ngircd' && !systems.includes('ngircd') ? 'skipped' : '—') : fmt(v, digits);
  };
  /** lowerIsBetter undefined: a ratio without a verdict (CPU used says nothing alone). */
  const row = (name: string, key: string, f: (r: SystemResult) => number | undefined, digits: number, lowerIsBetter?: boolean) => {
    const chat = results.chat ? f(results.chat) : undefined;
    const irc = results.ngircd ? f(results.ngircd) : undefined;
    const ratio = chat !== undefined && irc !== undefined && irc > 0 ? chat / irc : null;
    ratios[key] = ratio;
    let say = '';
    if (ratio !== null) {
      const chatBetter = lowerIsBetter ? ratio <= 1 : ratio >= 1;
      say = `${ratio.toFixed(2)}${lowerIsBetter === undefined ? '' : chatBetter ? ' (chat better)' : ' (ngIRCd better)'}`;
    }
    table.push([name, ...all.map((s) => cell(s, f, digits)), say]);
  };
  for (const c of p.cases) {
    const pick = (r: SystemResult) => r.direct.find((d) => d.users === c.users && d.window === c.window);
    row(`${fmt(c.users)} users in pairs, ${c.window} in flight: msgs/s`, `direct-${c.users}-${c.window}-per-second`, (r) => pick(r)?.perSecond, 0, false);
    row(`  same: msgs per server CPU-second`, `direct-${c.users}-${c.window}-per-cpu-second`, (r) => pick(r)?.perServerCpuSecond, 0, false);
    row(`  same: server CPU (% of a core)`, `direct-${c.users}-${c.window}-server-cpu`, (r) => (pick(r) ? (pick(r)?.serverCpu ?? 0) * 100 : undefined), 0);
  }
  const l = p.latency;
  row(`latency p50 at ${fmt(l.rate)} msgs/s offered, ${fmt(l.users)} users (ms)`, 'latency-p50', (r) => r.latency?.p50, 3, true);
  row(`latency p99 at ${fmt(l.rate)} msgs/s offered (ms)`, 'latency-p99', (r) => r.latency?.p99, 3, true);
  const b = p.broadcast;
  row(`broadcast to ${fmt(b.users - 1)}: server CPU per broadcast (ms)`, 'broadcast-cpu-ms', (r) => r.broadcast?.serverCpuMs, 2, true);
  row(`broadcast to ${fmt(b.users - 1)}: time to the last copy, p50 (ms)`, 'broadcast-last-copy-p50-ms', (r) => r.broadcast?.lastCopyP50Ms, 2, true);
  return { systems, skipped, results, ratios, table };
}

/** The comparison as a Markdown table. */
export function formatComparison(c: Comparison): string {
  const widths = c.table[0]!.map((_, i) => Math.max(...c.table.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const out = [line(c.table[0]!), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...c.table.slice(1).map(line)];
  for (const [what, why] of Object.entries(c.skipped)) out.push(`(${what}: ${why})`);
  return out.join('\n');
}

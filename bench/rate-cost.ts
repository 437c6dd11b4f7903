// What a message costs the server at a moderate, fixed rate (B2's load: 1,000 users in pairs, a
// pacer sending round-robin every millisecond), as server CPU time per message: the server
// process's own user + system time (from /proc) over the paced run, less what it spends idle with
// the same users logged in over as long, divided by the messages sent. The load generator's CPU is
// not in it, so the figure does not move much with the machine's load. Several checkouts can be
// compared in one run, alternated (A, B, A, B, ...), each on a fresh server:
//
//   bun bench/rate-cost.ts [--root DIR]... [--rate 10000] [--seconds 10] [--users 1000] [--rounds 2]
//   bun bench/rate-cost.ts --root /tmp/old --root . --rounds 3      # e.g. /tmp/old from git archive
//
// With --callgrind, each server runs under valgrind's callgrind twice, once paced for --seconds and
// once for twice as long, and the difference in instructions divided by the difference in messages
// is the steady cost of a message at that rate (use a low --rate: valgrind makes the server ~100x
// slower; at 100/s over 1,000 users every message is a turn of its own, as at 10,000/s).

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from './lib/clock.ts';
import { decodeHistograms, fmt, makeKit, names } from './lib/kit.ts';
import { cpuTimesOf } from './lib/proc.ts';
import { startTarget, type Target, type Worker } from './lib/procs.ts';

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    root: { type: 'string', multiple: true },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    callgrind: { type: 'boolean', default: false },
    strace: { type: 'boolean', default: false },
  },
});

const roots = (flags.root ?? ['.']).map((r) => resolve(r));
const rate = Number(flags.rate);
const seconds = Number(flags.seconds);
const users = Number(flags.users);
const rounds = Number(flags.rounds);
const workDir = mkdtempSync(join(os.tmpdir(), 'chat-rate-cost-'));
const log = (line: string) => console.error(`[rate-cost] ${line}`);
const kit = makeKit({ workDir, warmupMs: 0, seconds: 0, bodyChars: 40, loginConcurrency: 100, serverTimeoutSeconds: 3600, profileDir: undefined, log });
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Paced {
  sent: number;
  /** Sender -> recipient latency over the measured seconds, ms. */
  p50: number;
  p99: number;
  cpuUs: number;
  userUs: number;
  systemUs: number;
}

/** Runs the worker's pacer for `secs` (plus its one second of warm-up) and returns the server's CPU over it. */
async function pace(target: Target, worker: Worker, secs: number): Promise<Paced> {
  const before = cpuTimesOf(target.pid);
  const r = await worker.call<{ sent: number; drained: boolean; histogram: string }>('latency', { rate, seconds: secs, bodyChars: 40 });
  const h = decodeHistograms([r.histogram]);
  const after = cpuTimesOf(target.pid);
  if (!r.drained) log('  not every message was answered before the deadline');
  const sent = r.sent + Math.round(rate * Math.min(1, secs)); // the warm-up second is paced too
  const userUs = (after.user - before.user) * 1e6;
  const systemUs = (after.system - before.system) * 1e6;
  return { sent, p50: h.p50, p99: h.p99, cpuUs: userUs + systemUs, userUs, systemUs };
}

async function once(root: string, name: string, wrap: string[], work: (t: Target, w: Worker) => Promise<void>): Promise<void> {
  const { dir, credentials } = kit.freshDir(users);
  const target = await startTarget('server', { dir, credentials, timeoutSeconds: 3600, root, wrap });
  try {
    const { workers } = await kit.logIn(target, names(0, users), users, false, name);
    try {
      await kit.settle(workers, (users * (users - 1)) / 2, 600_000);
      await work(target, workers[0] as Worker);
    } finally {
      await kit.exitAll(workers);
    }
  } finally {
    await target.stop();
  }
}

async function secondsRun(root: string): Promise<void> {
  await once(root, 'rc', [], async (target, worker) => {
    await sleep(2000); // the login storm's garbage
    const idle0 = cpuTimesOf(target.pid);
    const t0 = performance.now();
    await sleep(3000);
    const idle1 = cpuTimesOf(target.pid);
    const idlePerSecond = (idle1.user + idle1.system - idle0.user - idle0.system) / ((performance.now() - t0) / 1000);
    // --strace: system calls per message, counted by strace -c over the paced run (it slows every call down: CPU figures then mean little).
    const straceOut = join(workDir, `strace-${results.length}.txt`);
    const tracer = flags.strace ? Bun.spawn(['strace', '-c', '-f', '-p', String(target.pid), '-o', straceOut], { stdout: 'ignore', stderr: 'ignore' }) : undefined;
    if (tracer) await sleep(1000);
    const t1 = performance.now();
    const p = await pace(target, worker, seconds);
    const wall = (performance.now() - t1) / 1000;
    if (tracer) {
      tracer.kill('SIGINT');
      await tracer.exited;
      log(`  system calls a message: ${syscallsPerMessage(straceOut, p.sent)}`);
    }
    const net = p.cpuUs - idlePerSecond * wall * 1e6;
    log(
      `${root}: ${fmt(p.sent)} msgs at ${fmt(rate)}/s: server ${fmt(p.cpuUs / p.sent, 2)} CPU-µs a message (user ${fmt(p.userUs / p.sent, 2)}, system ${fmt(p.systemUs / p.sent, 2)}); less idle (${fmt(idlePerSecond * 100, 2)} %): ${fmt(net / p.sent, 2)}; latency p50 ${fmt(p.p50, 2)} / p99 ${fmt(p.p99, 2)} ms; load ${loadavg()}`,
    );
    results.push({ root, rate, sent: p.sent, cpuUsPerMessage: p.cpuUs / p.sent, userUsPerMessage: p.userUs / p.sent, systemUsPerMessage: p.systemUs / p.sent, idleCpu: idlePerSecond, netCpuUsPerMessage: net / p.sent, p50Ms: p.p50, p99Ms: p.p99, loadavg: loadavg() });
  });
}

/** strace -c's table as "name calls-per-message, ...", the commonest first. */
function syscallsPerMessage(file: string, sent: number): string {
  const rows: [string, number][] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d+(\.\d+)?$/.test(f[0] as string) && /^\d+$/.test(f[3] as string)) rows.push([f.at(-1) as string, Number(f[3]) / sent]);
  }
  return rows
    .sort((a, b) => b[1] - a[1])
    .filter(([, n]) => n >= 0.005)
    .map(([name, n]) => `${name} ${n.toFixed(3)}`)
    .join(', ');
}

function totalIr(outDir: string): number {
  let total = 0;
  for (const file of readdirSync(outDir)) total += Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(outDir, file), 'utf8'))?.[1] ?? 0);
  return total;
}

async function callgrindRun(root: string): Promise<void> {
  const counts: { secs: number; sent: number; ir: number }[] = [];
  for (const secs of [seconds, 2 * seconds]) {
    const outDir = mkdtempSync(join(os.tmpdir(), 'chat-rate-cg-'));
    let sent = 0;
    const wrap = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(outDir, 'cg.%p.out')}`];
    await once(root, 'cg', wrap, async (target, worker) => {
      sent = (await pace(target, worker, secs)).sent;
    });
    counts.push({ secs, sent, ir: totalIr(outDir) });
    log(`${root}: ${fmt(sent)} msgs at ${fmt(rate)}/s under callgrind: ${fmt(totalIr(outDir))} instructions (${outDir}); load ${loadavg()}`);
  }
  const [a, b] = counts as [(typeof counts)[0], (typeof counts)[0]];
  const perMessage = (b.ir - a.ir) / (b.sent - a.sent);
  log(`${root}: ${fmt(perMessage)} instructions a message at ${fmt(rate)}/s (steady: between ${fmt(a.sent)} and ${fmt(b.sent)} messages)`);
  results.push({ root, rate, callgrind: counts, instructionsPerMessage: perMessage });
}

const results: Record<string, unknown>[] = [];
log(`${users} users in pairs, ${fmt(rate)} msgs/s offered for ${seconds} s (+1 s warm-up), ${rounds} round(s); load ${loadavg()}`);
for (let round = 0; round < rounds; round++) {
  for (const root of roots) await (flags.callgrind ? callgrindRun(root) : secondsRun(root));
}
console.log(JSON.stringify({ users, rate, seconds, results }, null, 2));
process.exit(0);

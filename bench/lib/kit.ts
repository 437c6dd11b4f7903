// The steps every scenario is made of: a fresh directory and server, logging users in over worker
// processes, waiting for a flood to settle, B1's direct-message load with CPU meters around it,
// and merging latency histograms. bench/run.ts and bench/compare.ts build on these.

import * as hdr from 'hdr-histogram-js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './clock.ts';
import { CpuMeter, memoryOf } from './proc.ts';
import { describe, recordPerf } from './perf.ts';
import { PASSWORD, startTarget, Worker, writeCredentials, type Target } from './procs.ts';

export interface KitOptions {
  workDir: string;
  warmupMs: number;
  seconds: number;
  bodyChars: number;
  loginConcurrency: number;
  serverTimeoutSeconds: number;
  profileDir: string | undefined;
  log: (line: string) => void;
}

export interface DirectResult {
  receivedPerSecond: number;
  deliveredPerSecond: number;
  received: number;
  seconds: number;
  drained: boolean;
  lastError: string;
  totals: Record<string, number>;
}

export type Kit = ReturnType<typeof makeKit>;

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function decodeHistograms(encoded: string[]) {
  const sum = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  for (const text of encoded) sum.add(hdr.decodeFromCompressedBase64(text));
  const ms = (p: number) => sum.getValueAtPercentile(p) / 1000;
  return { count: sum.totalCount, p50: ms(50), p99: ms(99), p999: ms(99.9), max: sum.maxValue / 1000, mean: sum.mean / 1000 };
}

export const names = (from: number, count: number) => Array.from({ length: count }, (_, i) => `u${from + i}`);

export function makeKit(o: KitOptions) {
  let dirCount = 0;

  /** A fresh directory, credentials file and database for one server. */
  function freshDir(accounts: number, extra: string[] = []): { dir: string; credentials: string } {
    const dir = join(o.workDir, `run-${++dirCount}`);
    mkdirSync(dir);
    const credentials = join(dir, 'credentials.txt');
    writeCredentials(credentials, accounts, extra);
    return { dir, credentials };
  }

  /** `web`: the server also serves the web client (its port in target.webPort). */
  async function withServer<T>(accounts: number, extra: string[], fn: (target: Target) => Promise<T>, web = false): Promise<T> {
    const { dir, credentials } = freshDir(accounts, extra);
    const target = await startTarget('server', { dir, credentials, profileDir: o.profileDir, timeoutSeconds: o.serverTimeoutSeconds, web });
    try {
      return await fn(target);
    } finally {
      await target.stop();
    }
  }

  /** Logs `users` in over workers of `perProcess` users each, all at once; resolves when every one is in. */
  async function logIn(target: Target, users: string[], perProcess: number, countOnly: boolean, tag = 'w') {
    const workers: Worker[] = [];
    const parts: string[][] = [];
    for (let i = 0; i < users.length; i += perProcess) parts.push(users.slice(i, i + perProcess));
    for (const [i] of parts.entries()) workers.push(new Worker(`${tag}${i}`));
    await Promise.all(workers.map((w) => w.ready));
    const meters = workers.map((w) => new CpuMeter(w.pid));
    const serverMeter = new CpuMeter(target.pid);
    const t0 = performance.now();
    const proto = target.kind === 'server' || target.kind === 'min' || target.kind === 'min-batched' ? 'chat' : target.kind;
    const replies = await Promise.all(
      workers.map((w, i) =>
        w.call<{ ms: number; loginP50: number; loginMax: number }>('setup', {
          host: '127.0.0.1',
          port: target.port,
          proto,
          // The users count each message a `delivered` line covers ("n"), not one a line.
          batched: target.kind === 'min-batched',
          users: parts[i],
          password: PASSWORD,
          countOnly,
          concurrency: o.loginConcurrency,
          tag: `${tag}${i}`,
        }),
      ),
    );
    const cpu = { server: serverMeter.read(), generators: meters.reduce((sum, m) => sum + m.read(), 0) };
    return { workers, ms: performance.now() - t0, replies, cpu };
  }

  /** Waits until the workers have heard `expected` announcements (presence names, or IRC JOINs) since their welcomes. */
  async function settle(workers: Worker[], expected: number, timeoutMs: number) {
    const t0 = performance.now();
    let lines = 0;
    while (performance.now() - t0 < timeoutMs) {
      const all = await Promise.all(workers.map((w) => w.call<{ lines: number; closed: number }>('stats')));
      lines = all.reduce((sum, s) => sum + s.lines, 0);
      const closed = all.reduce((sum, s) => sum + s.closed, 0);
      if (closed > 0) throw new Error(`${closed} bench connections were closed by the server`);
      if (lines >= expected) break;
      await sleep(50);
    }
    return { lines, expected, ms: performance.now() - t0, complete: lines >= expected };
  }

  async function exitAll(workers: Worker[]): Promise<void> {
    await Promise.all(workers.map((w) => w.exit()));
  }

  /**
   * B1's load on `target` from one worker (only its first `active` users send). Besides msgs/s:
   * msgs per server CPU-second, the server's user+system time only (its own process, from /proc).
   */
  async function runDirect(target: Target, driver: Worker, users: number, window: number, active?: number) {
    const serverCpu = new CpuMeter(target.pid);
    const driverCpu = new CpuMeter(driver.pid);
    const pending = driver.call<DirectResult>('direct', { window, warmupMs: o.warmupMs, seconds: o.seconds, bodyChars: o.bodyChars, active });
    await sleep(o.warmupMs);
    serverCpu.read(true);
    driverCpu.read(true);
    const perf = process.env.BENCH_PERF ? recordPerf(target.pid) : undefined;
    await sleep(o.seconds * 1000);
    const cpu = { server: serverCpu.read(), serverKernel: serverCpu.lastSystem, generator: driverCpu.read(), generatorKernel: driverCpu.lastSystem };
    const breakdown = typeof perf === 'object' ? await perf.stop() : perf;
    const result = await pending;
    const memory = memoryOf(target.pid);
    if (result.lastError) o.log(`  last error seen: ${result.lastError}`);
    const perCpuSecond = cpu.server > 0 ? result.receivedPerSecond / cpu.server : 0;
    if (typeof breakdown === 'string') o.log(`  perf: ${breakdown}`);
    else if (breakdown) for (const line of describe(breakdown, perCpuSecond > 0 ? 1e6 / perCpuSecond : 0)) o.log(line);
    return { users, window, ...result, cpu, perServerCpuSecond: perCpuSecond, serverRss: memory.rss, perf: breakdown };
  }

  return { freshDir, withServer, logIn, settle, exitAll, runDirect };
}

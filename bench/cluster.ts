// `bun bench/cluster.ts [--quick] [--pairs N] [--window W] [--seconds S] [--nodes N] [--profile DIR]`
// (also `bun run bench cluster …`)
//
// The cluster scenario (issue 12): direct messages between users on different nodes, with 1, 2 and
// 3 `chat serve --cluster --store` nodes on this machine, beside the single node (SQLite). Real
// processes, real redis-server and PostgreSQL (started here on free loopback ports, as the tests do).
// Sender k sits on node k mod N, its recipient on the next node, so with N > 1 every message crosses
// nodes. Each sender keeps `window` messages in flight; a message counts when its sender hears
// `delivered` (the recipient's node wrote it and the recipient acknowledged it), and its latency is
// from the send to that reply. CPU is that of every node, Redis and every PostgreSQL process
// together, per message. The load generator runs in this process, on the same 2 cores: ratios only.

import * as hdr from 'hdr-histogram-js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RedisClient, type Socket, type Subprocess } from 'bun';
import { freePort, PostgresEngine, postgresMissing, RedisEngine, redisMissing } from '../tests/helpers/engines.ts';
import { tempDir } from '../tests/helpers/test-server.ts';
import { cpuSecondsOf } from './lib/proc.ts';
import { spawnServe } from '../tests/helpers/serve-process.ts';

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2).filter((a) => a !== 'cluster'),
  options: { quick: { type: 'boolean', default: false }, profile: { type: 'string' }, nodes: { type: 'string' }, pairs: { type: 'string' }, window: { type: 'string' }, seconds: { type: 'string' } },
});
const quick = flags.quick ?? false;
const PAIRS = Number(flags.pairs ?? (quick ? 12 : 60));
const WINDOW = Number(flags.window ?? 16);
const SECONDS = Number(flags.seconds ?? (quick ? 2 : 8));
const WARMUP_MS = quick ? 500 : 2000;
const PASSWORD = 'bench*password';
const CLI = join(import.meta.dir, '../src/cli.ts');

/** A protocol client that does only what the scenario needs: log in, ack, count `delivered`. */
class BenchClient {
  private buf = '';
  private socket!: Socket<undefined>;
  private waiting: ((line: string) => boolean) | undefined;
  private wake: (() => void) | undefined;
  onDelivered: (tag: string) => void = () => {};

  static async connect(port: number): Promise<BenchClient> {
    const c = new BenchClient();
    c.socket = await Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        data: (_s, chunk) => c.receive(chunk.toString()),
        error() {},
        close() {},
      },
    });
    return c;
  }

  private receive(text: string): void {
    this.buf += text;
    let nl: number;
    let acks = '';
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.startsWith('{"type":"message"')) acks += `ack ${/"id":(\d+)/.exec(line)?.[1]}\n`;
      else if (line.includes('"code":"delivered"')) this.onDelivered(/"re":"([^"]+)"/.exec(line)?.[1] ?? '');
      if (this.waiting?.(line)) {
        this.waiting = undefined;
        this.wake?.();
      }
    }
    if (acks) this.socket.write(acks);
  }

  write(text: string): void {
    this.socket.write(text);
  }

  async login(user: string): Promise<void> {
    const welcome = new Promise<void>((resolve) => (this.wake = resolve));
    this.waiting = (line) => line.includes('"code":"welcome"');
    this.write(`login ${user}\npassword ${PASSWORD}\n`);
    await welcome;
  }

  end(): void {
    this.socket.end();
  }
}

/** The pids of `root` and every process below it (PostgreSQL forks a process per connection). */
function family(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Voluntary + involuntary context switches of `pids` so far (a wake-up count: load-insensitive). */
function switchesOf(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) sum += Number(m[1]);
    } catch {
      // exited
    }
  }
  return sum;
}

/** Redis's own count of calls per command so far (INFO commandstats). */
async function commandStats(url: string): Promise<Map<string, number>> {
  const client = new RedisClient(url);
  try {
    const info = String(await client.send('INFO', ['commandstats']));
    const calls = new Map<string, number>();
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set((m[1] as string).toUpperCase(), Number(m[2]));
    return calls;
  } finally {
    client.close();
  }
}

/** Per message: calls of each command between two commandstats samples (the INFO itself left out). */
function perMessage(before: Map<string, number>, after: Map<string, number>, messages: number): string {
  const parts: string[] = [];
  let total = 0;
  for (const [command, calls] of after) {
    const n = calls - (before.get(command) ?? 0) - (command === 'INFO' ? 1 : 0);
    if (n <= 0) continue;
    total += n;
    if (n / messages >= 0.01) parts.push(`${command} ${(n / messages).toFixed(2)}`);
  }
  return `${(total / messages).toFixed(2)} (${parts.join(', ')})`;
}

/**
 * Counts the system calls of `pids` until stop() (perf's raw_syscalls tracepoint: load-insensitive);
 * undefined where perf is missing or not allowed.
 */
function countSyscalls(pids: number[]): { stop: () => Promise<number | undefined> } {
  if (pids.length === 0 || !Bun.which('perf')) return { stop: async () => undefined };
  const perf = Bun.spawn(['perf', 'stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '-p', pids.join(',')], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
  return {
    async stop() {
      perf.kill('SIGINT');
      const text = await new Response(perf.stderr).text();
      await perf.exited;
      const count = Number(/^(\d+),/m.exec(text)?.[1]);
      return Number.isFinite(count) ? count : undefined;
    },
  };
}

function cpuOf(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSecondsOf(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/** `--profile DIR`: each node writes a .cpuprofile there when it stops (bench/profile-summary.ts reads it). */
async function startNode(args: string[]): Promise<Subprocess> {
  const bun = flags.profile ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${flags.profile}`] : [process.execPath];
  const node = await spawnServe(args, [...bun, CLI]);
  logs.set(node.proc, node.log);
  return node.proc;
}

/** Each node's stderr so far: what went wrong is printed after its run (a run with trouble is no measurement). */
const logs = new Map<Subprocess, () => string>();

interface Result {
  setup: string;
  msgsPerSecond: number;
  msgsPerCpuSecond: number;
  p50ms: number;
  p99ms: number;
  cpuCores: number;
  /** CPU microseconds per message: the nodes, Redis, PostgreSQL. */
  nodeUs: number;
  redisUs: number;
  pgUs: number;
  /** Context switches of nodes and engines per message. */
  switches: number;
  /** System calls per message of the nodes and of Redis (perf; '-' without it). */
  nodeSyscalls: number | string;
  redisSyscalls: number | string;
  /** Redis calls per message, in all and per command. */
  redisCalls: string;
}

async function run(nodes: number | 'single', redis?: RedisEngine, pg?: PostgresEngine): Promise<Result> {
  const dir = tempDir();
  const credentials = join(dir, 'credentials.txt');
  const users = Array.from({ length: PAIRS * 2 }, (_, i) => `u${i}`);
  writeFileSync(credentials, users.map((u) => `${u} ${PASSWORD}\n`).join(''), { mode: 0o600 });
  const common = ['60', '3600', '--host', '127.0.0.1', '--credentials', credentials, '--rate-limit', '0', '--max-per-address', '0', '--offline-quota', '0'];
  const procs: Subprocess[] = [];
  const ports: number[] = [];
  let redisPids: () => number[] = () => [];
  let pgPids: () => number[] = () => [];
  if (nodes === 'single') {
    const port = freePort();
    procs.push(await startNode([String(port), ...common, '--db', join(dir, 'chat.db')]));
    ports.push(port);
  } else {
    await (redis as RedisEngine).restart();
    const store = await (pg as PostgresEngine).createDatabase();
    for (let n = 0; n < nodes; n++) {
      const port = freePort();
      procs.push(await startNode([String(port), ...common, '--cluster', (redis as RedisEngine).url, '--store', store, '--node', `b${n}`]));
      ports.push(port);
    }
    redisPids = () => family((redis as RedisEngine).pid as number);
    pgPids = () => family((pg as PostgresEngine).pid as number);
  }
  const n = ports.length;
  const recipients: BenchClient[] = [];
  const senders: BenchClient[] = [];
  for (let k = 0; k < PAIRS; k++) {
    const r = await BenchClient.connect(ports[(k + 1) % n] as number);
    await r.login(`u${2 * k + 1}`);
    recipients.push(r);
  }
  // The senders' nodes must know the recipients are online (presence arrives through Redis).
  await Bun.sleep(nodes === 'single' ? 100 : 1000);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let delivered = 0;
  let measuring = false;
  /** Every delivered, measured or not (for the syscall counts, whose window is a little wider). */
  let deliveredAll = 0;
  let stop = false;
  const body = 'x'.repeat(40);
  for (let k = 0; k < PAIRS; k++) {
    const s = await BenchClient.connect(ports[k % n] as number);
    await s.login(`u${2 * k}`);
    senders.push(s);
    const sentAt = new Map<string, number>();
    let seq = 0;
    const send = () => {
      const tag = `m${++seq}`;
      sentAt.set(tag, performance.now());
      s.write(`#${tag} message u${2 * k + 1} ${body}\n`);
    };
    s.onDelivered = (tag) => {
      const at = sentAt.get(tag);
      sentAt.delete(tag);
      if (at !== undefined) deliveredAll++;
      if (measuring && at !== undefined) {
        delivered++;
        histogram.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
      }
      if (!stop) send();
    };
    for (let i = 0; i < WINDOW; i++) send();
  }
  await Bun.sleep(WARMUP_MS);
  const nodePids = () => procs.map((p) => p.pid);
  const pids = () => [...nodePids(), ...redisPids(), ...pgPids()];
  const nodeCalls = countSyscalls(nodePids());
  const redisCalls = countSyscalls(redisPids());
  // perf needs a moment to attach (what it counts before the window makes its figure a little high).
  await Bun.sleep(100);
  const deliveredAll0 = deliveredAll;
  const stats0 = redis && nodes !== 'single' ? await commandStats(redis.url) : new Map<string, number>();
  const [node0, redis0, pg0, switches0] = [cpuOf(nodePids()), cpuOf(redisPids()), cpuOf(pgPids()), switchesOf(pids())];
  const t0 = performance.now();
  measuring = true;
  await Bun.sleep(SECONDS * 1000);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const [nodeCpu, redisCpu, pgCpu, switches] = [cpuOf(nodePids()) - node0, cpuOf(redisPids()) - redis0, cpuOf(pgPids()) - pg0, switchesOf(pids()) - switches0];
  const stats1 = redis && nodes !== 'single' ? await commandStats(redis.url) : new Map<string, number>();
  const [nodeSyscalls, redisSyscalls] = await Promise.all([nodeCalls.stop(), redisCalls.stop()]);
  const syscallsWindow = deliveredAll - deliveredAll0;
  const perMsg = (n: number | undefined) => (n === undefined ? '-' : Math.round((n / Math.max(syscallsWindow, 1)) * 100) / 100);
  const cpu = nodeCpu + redisCpu + pgCpu;
  const us = (cpuSeconds: number) => Math.round((cpuSeconds / Math.max(delivered, 1)) * 1e6);
  stop = true;
  for (const c of [...senders, ...recipients]) c.end();
  for (const p of procs) {
    const trouble = (logs.get(p)?.() ?? '').split('\n').filter((l) => /skipped|failed|lost|unreachable|fenced|cannot/.test(l));
    if (trouble.length > 0) console.log(`node ${p.pid} logged ${trouble.length} lines of trouble, first: ${trouble.slice(0, 3).join(' | ')}`);
    // A profiled node must exit by itself to write its profile.
    p.kill(flags.profile ? 'SIGTERM' : 'SIGKILL');
    await p.exited;
  }
  return {
    setup: nodes === 'single' ? 'single node (SQLite)' : `${nodes} node${nodes === 1 ? '' : 's'} (Redis + PostgreSQL)`,
    msgsPerSecond: Math.round(delivered / seconds),
    msgsPerCpuSecond: Math.round(delivered / Math.max(cpu, 0.001)),
    p50ms: histogram.getValueAtPercentile(50) / 1000,
    p99ms: histogram.getValueAtPercentile(99) / 1000,
    cpuCores: Math.round((cpu / seconds) * 100) / 100,
    nodeUs: us(nodeCpu),
    redisUs: us(redisCpu),
    pgUs: us(pgCpu),
    switches: Math.round((switches / Math.max(delivered, 1)) * 100) / 100,
    nodeSyscalls: perMsg(nodeSyscalls),
    redisSyscalls: perMsg(redisSyscalls),
    redisCalls: nodes === 'single' ? '-' : perMessage(stats0, stats1, Math.max(delivered, 1)),
  };
}

export async function clusterBench(): Promise<Result[]> {
  const missing = redisMissing() ?? postgresMissing();
  // `--nodes 2`: only that setup (with --profile, say).
  const only = flags.nodes === undefined ? undefined : Number(flags.nodes);
  const results: Result[] = only === undefined ? [await run('single')] : [];
  if (missing) {
    console.log(`cluster scenario: only the single node (${missing})`);
    return results;
  }
  const [redis, pg] = await Promise.all([RedisEngine.start(), PostgresEngine.start()]);
  try {
    for (const n of only === undefined ? [1, 2, 3] : [only]) results.push(await run(n, redis, pg));
  } finally {
    await Promise.all([redis.stop(), pg.stop()]);
  }
  console.log(`cluster scenario: ${PAIRS} pairs, window ${WINDOW}, ${SECONDS} s measured; latency is send -> delivered (recipient acked);`);
  console.log('per message: nodeUs/redisUs/pgUs CPU microseconds; switches: context switches of all; nodeSyscalls/redisSyscalls: system calls (perf); redisCalls: Redis commands');
  console.table(results.map(({ setup, msgsPerSecond, msgsPerCpuSecond, p50ms, p99ms, cpuCores }) => ({ setup, msgsPerSecond, msgsPerCpuSecond, p50ms, p99ms, cpuCores })));
  console.table(results.map(({ setup, nodeUs, redisUs, pgUs, switches, nodeSyscalls, redisSyscalls, redisCalls }) => ({ setup, nodeUs, redisUs, pgUs, switches, nodeSyscalls, redisSyscalls, redisCalls })));
  return results;
}

if (import.meta.main) await clusterBench();

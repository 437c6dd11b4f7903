// Instructions per message, counted by valgrind's callgrind: repeatable on a shared machine,
// where seconds are not (or, with --tool strace, system calls per message, counted by strace -c). Each system (chat, and ngIRCd when installed) runs under callgrind twice
// with the same users logged in: once with a fixed amount of work, once with none; the difference
// divided by the work is what one direct message (or one broadcast) costs in user-space
// instructions. Direct messages also run with twice the work: (2N − N) / N leaves out the JIT's
// warm-up, which the first figure includes. Kernel time (syscalls, TCP) is not counted: see bench/run.ts's CPU split for it.
//
//   bun bench/instructions.ts [--users 20] [--window 4] [--messages 20000]
//                             [--broadcast-users 1000] [--broadcasts 10] [--only chat|ngircd] [--keep DIR]
//                             [--tool callgrind|strace] [--no-broadcast] [--root DIR]
//
// Slow (valgrind runs the server ~50x slower): a few minutes. The callgrind files are kept in
// --keep DIR (default: a temp dir, printed) for callgrind_annotate.

import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from './lib/clock.ts';
import { fmt, makeKit, names } from './lib/kit.ts';
import { ngircdPath, startNgircd } from './lib/ngircd.ts';
import { startTarget, type Target, type Worker } from './lib/procs.ts';

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    // Few in flight: valgrind makes the server ~100x slower, and a message unacked for 10 s is stored.
    users: { type: 'string', default: '20' },
    window: { type: 'string', default: '4' },
    messages: { type: 'string', default: '20000' },
    'broadcast-users': { type: 'string', default: '1000' },
    broadcasts: { type: 'string', default: '10' },
    only: { type: 'string' },
    keep: { type: 'string' },
    tool: { type: 'string', default: 'callgrind' },
    'no-broadcast': { type: 'boolean', default: false },
    // Another checkout's server (e.g. an older commit from git archive), with this checkout's load generator.
    root: { type: 'string' },
  },
});

const users = Number(flags.users);
const window = Number(flags.window);
const perUser = Math.ceil(Number(flags.messages) / users);
const messages = perUser * users;
const bUsers = Number(flags['broadcast-users']);
const broadcasts = Number(flags.broadcasts);
const outDir = flags.keep ?? mkdtempSync(join(os.tmpdir(), 'chat-callgrind-'));
mkdirSync(outDir, { recursive: true });
const workDir = mkdtempSync(join(os.tmpdir(), 'chat-instr-'));
const log = (line: string) => console.error(`[instructions] ${line}`);
const kit = makeKit({ workDir, warmupMs: 0, seconds: 0, bodyChars: 40, loginConcurrency: 20, serverTimeoutSeconds: 3600, profileDir: undefined, log });

type System = 'chat' | 'ngircd';

const strace = flags.tool === 'strace';

function callgrind(name: string): string[] {
  // strace attaches to the running server instead (see run()).
  if (strace) return [];
  // --smc-check: Bun's JIT writes code to the heap. Every thread's count goes into one total.
  return ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${join(outDir, `${name}.%p.out`)}`];
}

/** strace -c's table: calls by system call name. */
function syscalls(name: string): Record<string, number> {
  const out: Record<string, number> = {};
  const text = readFileSync(join(outDir, `${name}.strace`), 'utf8');
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length >= 5 && /^\d+(\.\d+)?$/.test(f[0] as string) && /^\d+$/.test(f[3] as string)) out[f.at(-1) as string] = Number(f[3]);
  }
  return out;
}

function perUnit(withWork: Record<string, number>, without: Record<string, number>, units: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(withWork)) {
    const d = (v - (without[k] ?? 0)) / units;
    if (Math.abs(d) >= 0.001) out[k] = Math.round(d * 1000) / 1000;
  }
  return out;
}

async function start(system: System, accounts: number, name: string): Promise<Target> {
  const { dir, credentials } = kit.freshDir(system === 'chat' ? accounts : 0);
  if (system === 'ngircd') {
    // Started as root, ngIRCd switches to an unprivileged user, which then cannot write the count
    // file that the tool opened as root: so the tool runs as that user from the start.
    const asNobody = process.getuid?.() === 0 && !strace ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    for (const d of [workDir, dir]) chmodSync(d, 0o755);
    chmodSync(dir, 0o777);
    chmodSync(outDir, 0o777);
    return startNgircd(ngircdPath() as string, dir, [...asNobody, ...callgrind(name)]);
  }
  return startTarget('server', { dir, credentials, timeoutSeconds: 3600, wrap: callgrind(name), root: flags.root && resolve(flags.root) });
}

/** The total of instructions (Ir) in the callgrind file(s) whose name starts with `name.`. */
function totalIr(name: string): number {
  let total = 0;
  for (const file of readdirSync(outDir).filter((f) => f.startsWith(`${name}.`))) {
    const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(outDir, file), 'utf8'));
    total += Number(m?.[1] ?? 0);
  }
  return total;
}

/** One server under callgrind: log in, do `work` (or nothing), stop; returns its instructions. */
async function run(system: System, name: string, accounts: number, work: (target: Target, workers: Worker[]) => Promise<void>): Promise<number> {
  const target = await start(system, accounts, name);
  try {
    const { workers } = await kit.logIn(target, names(0, accounts), 5000, false, `cg-${name}-`);
    try {
      // strace -c attaches (every thread: -f) for the work only, and prints its table when interrupted.
      const tracer = strace ? Bun.spawn(['strace', '-c', '-f', '-p', String(target.pid), '-o', join(outDir, `${name}.strace`)], { stdout: 'ignore', stderr: 'ignore' }) : undefined;
      if (tracer) await sleep(1000);
      await work(target, workers);
      if (tracer) {
        tracer.kill('SIGINT');
        await tracer.exited;
      }
    } finally {
      await kit.exitAll(workers);
    }
  } finally {
    await target.stop();
  }
  return totalIr(name);
}

async function settleJoins(system: System, workers: Worker[], n: number): Promise<void> {
  if (system === 'chat') await kit.settle(workers, (n * (n - 1)) / 2, 600_000);
  else {
    await Promise.all(workers.map((w) => w.call('ircJoin')));
    await kit.settle(workers, (n * (n + 1)) / 2, 600_000);
  }
}

async function direct(system: System): Promise<{ withWork: number; without: number; perMessage: number; withDouble?: number; marginalPerMessage?: number; syscalls?: Record<string, number> }> {
  const go = (count: number) => async (_t: Target, workers: Worker[]) => {
    const r = await (workers[0] as Worker).call<{ drained: boolean; delivered: number; ms: number }>('directCount', { window, perUser: count, bodyChars: 40, timeoutMs: 600_000 });
    if (count > 0) log(`${system}: ${fmt(r.delivered)} messages answered in ${fmt(r.ms)} ms under ${flags.tool} (all: ${r.drained})`);
  };
  const withWork = await run(system, `${system}-direct`, users, go(perUser));
  const without = await run(system, `${system}-direct-none`, users, go(0));
  if (strace) {
    const calls = perUnit(syscalls(`${system}-direct`), syscalls(`${system}-direct-none`), messages);
    return { withWork, without, perMessage: calls.total ?? 0, syscalls: calls };
  }
  // Twice the work, once more: the difference is what a message costs once the JIT has warmed up.
  const withDouble = await run(system, `${system}-direct-double`, users, go(2 * perUser));
  return { withWork, without, perMessage: (withWork - without) / messages, withDouble, marginalPerMessage: (withDouble - withWork) / messages };
}

async function broadcast(system: System): Promise<{ withWork: number; without: number; perBroadcast: number; perRecipient: number }> {
  const go = (count: number) => async (_t: Target, workers: Worker[]) => {
    await settleJoins(system, workers, bUsers);
    await Promise.all(workers.map((w) => w.call('broadcastListen')));
    if (count > 0) await (workers[0] as Worker).call('broadcastSend', { count, intervalMs: 1000, bodyChars: 40 });
    else await sleep(1000);
    await sleep(2000);
  };
  const withWork = await run(system, `${system}-broadcast`, bUsers, go(broadcasts));
  const without = await run(system, `${system}-broadcast-none`, bUsers, go(0));
  if (strace) {
    const calls = perUnit(syscalls(`${system}-broadcast`), syscalls(`${system}-broadcast-none`), broadcasts);
    return { withWork, without, perBroadcast: calls.total ?? 0, perRecipient: (calls.total ?? 0) / (bUsers - 1), syscalls: calls } as never;
  }
  const perBroadcast = (withWork - without) / broadcasts;
  return { withWork, without, perBroadcast, perRecipient: perBroadcast / (bUsers - 1) };
}

const systems: System[] = (['chat', 'ngircd'] as System[]).filter((s) => !flags.only || flags.only === s);
if (!ngircdPath() && systems.includes('ngircd')) {
  log('ngircd is not installed (Debian: apt-get install ngircd): counting chat only');
  systems.splice(systems.indexOf('ngircd'), 1);
}
const results: Record<string, unknown> = {};
const unit = strace ? 'system calls' : 'instructions';
for (const system of systems) {
  const d = await direct(system);
  log(`${system}: ${fmt(d.perMessage, strace ? 3 : 0)} ${unit} per direct message (${users} users in pairs, ${window} in flight, ${fmt(messages)} messages)${d.syscalls ? ` ${JSON.stringify(d.syscalls)}` : ''}`);
  if (d.marginalPerMessage !== undefined) log(`${system}: ${fmt(d.marginalPerMessage)} ${unit} per direct message between ${fmt(messages)} and ${fmt(2 * messages)} (the steady cost)`);
  if (flags['no-broadcast']) {
    results[system] = { direct: d };
    continue;
  }
  const b = await broadcast(system);
  log(`${system}: ${fmt(b.perBroadcast)} ${unit} per broadcast to ${fmt(bUsers - 1)} (${fmt(b.perRecipient, 2)} per recipient)`);
  results[system] = { direct: d, broadcast: b };
}
console.log(JSON.stringify({ tool: flags.tool, users, window, messages, broadcastUsers: bUsers, broadcasts, callgrindFiles: outDir, results }, null, 2));
// Like run.ts: leave even if a child's pipe or timer would keep the event loop alive.
process.exit(0);

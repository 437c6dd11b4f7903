// Child processes of the bench: the server under test (or the bare relay) and load-generator workers.

import type { Subprocess } from 'bun';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');

export interface Target {
  /**
   * server: chat; relay: bench/relay.ts; min: bench/floors/min-server.ts (chat's protocol, minimal);
   * min-batched: the same with one `delivered` line for the messages one ack covers from one sender;
   * irc: ngIRCd (bench/lib/ngircd.ts).
   */
  readonly kind: 'server' | 'relay' | 'min' | 'min-batched' | 'irc';
  readonly port: number;
  /** The web client's port, when started with `web`. */
  readonly webPort?: number;
  readonly pid: number;
  readonly dir: string;
  readonly db: string;
  stop(): Promise<void>;
}

export interface TargetOptions {
  dir: string;
  credentials?: string;
  /** Write a CPU profile of the server to this directory (bun --cpu-prof). */
  profileDir?: string;
  timeoutSeconds?: number;
  /** Also serve the web client (--web 0). */
  web?: boolean;
  /** A command to run the target under, e.g. valgrind (bench/instructions.ts). */
  wrap?: string[];
  /** Another checkout's server (bench/rate-cost.ts compares commits): flags its cli.ts does not know are left out. */
  root?: string;
}

/** Reads the child's stdout until its first `count` lines: the port, then (with --web) the web port. */
async function firstLines(proc: { stdout: ReadableStream<Uint8Array>; kill(): void }, count: number, timeoutMs: number): Promise<string[]> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = setTimeout(() => proc.kill(), timeoutMs);
  try {
    while (text.split('\n').length <= count) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the process exited before it said where it listens');
      text += decoder.decode(value);
    }
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
  return text.split('\n').slice(0, count);
}

/** Drops `--flag value` pairs that the server at `root` does not define (an older commit). */
function knownFlags(root: string, args: string[]): string[] {
  if (root === ROOT) return args;
  const cli = readFileSync(join(root, 'src/cli.ts'), 'utf8');
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--') && a !== '--web' && !cli.includes(`'${a} `) && !cli.includes(`'${a}'`)) i++;
    else out.push(a);
  }
  return out;
}

/** BENCH_STALLS=<dir>: every bench process records its event-loop stalls there (bench/stalls-probe.ts). */
function stallsProbe(): string[] {
  return process.env.BENCH_STALLS ? ['--preload', join(ROOT, 'bench/stalls-probe.ts')] : [];
}

export async function startTarget(kind: 'server' | 'relay' | 'min' | 'min-batched', options: TargetOptions): Promise<Target> {
  const root = options.root ?? ROOT;
  const db = join(options.dir, 'chat.db');
  const log = join(options.dir, `${kind}.log`);
  const profile = [...(options.profileDir ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${options.profileDir}`] : []), ...stallsProbe()];
  const cmd =
    kind === 'server'
      ? [
          ...(options.wrap ?? []),
          process.execPath,
          ...profile,
          join(root, 'src/cli.ts'),
          ...knownFlags(root, [
          'serve',
          '0',
          '60',
          String(options.timeoutSeconds ?? 600),
          '--host',
          '127.0.0.1',
          '--credentials',
          options.credentials ?? join(options.dir, 'credentials.txt'),
          '--db',
          db,
          '--rate-limit',
          '0',
          '--max-per-address',
          '0',
          '--max-connections',
          '25000',
          '--login-timeout',
          '600',
          // Every generator connects from 127.0.0.1: the per-address limits would measure themselves.
          '--max-auth-failures',
          '0',
          '--max-checks-per-address',
          '0',
          '--registrations-per-address',
          '0',
          '--registrations-total',
          '0',
          '--offline-quota',
          '0',
          '--offline-quota-bytes',
          '0',
          ...(options.web ? ['--web', '0'] : []),
          ]),
        ]
      : kind === 'relay'
        ? [...(options.wrap ?? []), process.execPath, ...profile, join(ROOT, 'bench/relay.ts'), '0']
        : [...(options.wrap ?? []), process.execPath, ...profile, join(ROOT, 'bench/floors/min-server.ts'), '0', ...(kind === 'min-batched' ? ['batched'] : [])];
  // env: as it is now (bench/stalls.ts sets BENCH_STALLS and BUN_JSC_logGC while it runs), plus
  // BENCH_SERVER_ENV="NAME=VALUE ..." for the server (relay, min-server) alone: a runtime setting tried on the
  // server without changing the load generators, e.g. BENCH_SERVER_ENV=MIMALLOC_PURGE_DELAY=-1.
  const serverEnv = Object.fromEntries((process.env.BENCH_SERVER_ENV ?? '').split(/\s+/).filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...serverEnv }, stdin: 'ignore', stdout: 'pipe', stderr: Bun.file(log) });
  // Under valgrind a start takes a while.
  const [line = '', webLine] = await firstLines(proc, options.web ? 2 : 1, options.wrap ? 300_000 : 30_000);
  const port = Number(/:(\d+)\s*$/.exec(line)?.[1]);
  const webPort = webLine === undefined ? undefined : Number(/:(\d+)\/\s*$/.exec(webLine)?.[1]);
  if (!port) throw new Error(`${kind} did not say its port: ${line}`);
  return {
    kind,
    port,
    webPort,
    pid: proc.pid,
    dir: options.dir,
    db,
    async stop() {
      proc.kill('SIGTERM');
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(options.wrap ? 120_000 : 20_000).then(() => false)]);
      if (!exited) {
        proc.kill('SIGKILL');
        await proc.exited;
      }
    },
  };
}

/** Writes `count` accounts u0..u{count-1} with the plain password `pw`, plus `extra` names. */
export function writeCredentials(path: string, count: number, extra: readonly string[] = []): void {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`u${i} pw`);
  for (const name of extra) lines.push(`${name} pw`);
  writeFileSync(path, `${lines.join('\n')}\n`);
}

export const PASSWORD = 'pw';

type Reply = Record<string, unknown> & { id: number; ok: boolean; error?: string };

/** A load-generator process, driven by request/reply over IPC. */
export class Worker {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private readonly proc: Subprocess;
  readonly ready: Promise<void>;

  constructor(readonly name: string) {
    let onReady: () => void = () => {};
    this.ready = new Promise((resolve) => (onReady = resolve));
    // BENCH_WORKER_PROFILE=<dir>: profile the load generators too (to see what they spend).
    const profile = [...(process.env.BENCH_WORKER_PROFILE ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${process.env.BENCH_WORKER_PROFILE}`] : []), ...stallsProbe()];
    this.proc = Bun.spawn([process.execPath, ...profile, join(ROOT, 'bench/worker.ts')], {
      cwd: ROOT,
      env: { ...process.env }, // as it is now (bench/stalls.ts sets BENCH_STALLS while it runs)
      stdin: 'ignore',
      stdout: 'inherit',
      // Under bench/stalls.ts the generator's stderr (JSC's GC log) goes next to its probe's record.
      stderr: process.env.BENCH_STALLS ? Bun.file(join(process.env.BENCH_STALLS, `worker-${name}.log`)) : 'inherit',
      serialization: 'json',
      ipc: (message: Reply) => {
        if (message.id === 0) return onReady();
        const resolve = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        resolve?.(message);
      },
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  async call<T = Record<string, unknown>>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    await this.ready;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.send({ id, cmd, ...args });
    });
    if (!reply.ok) throw new Error(`worker ${this.name}: ${cmd}: ${reply.error}`);
    return reply as unknown as T;
  }

  async exit(): Promise<void> {
    try {
      await Promise.race([this.call('exit'), Bun.sleep(2000)]);
    } catch {
      // already gone
    }
    await Promise.race([this.proc.exited, Bun.sleep(3000)]);
    this.proc.kill('SIGKILL');
  }
}

// A real PostgreSQL for tests: a copy of an empty cluster (made by initdb once per machine) in a
// temporary directory, on a free loopback port, run as the postgres user when we are root. It can
// be stopped abruptly (immediate shutdown, as after a crash) and started again on the same data,
// or paused (SIGSTOP to every backend) and resumed.

import { SQL } from 'bun';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { killAndWait, onFreePort, type Proc, spawnUntil } from './engine-process.ts';

interface PostgresBinaries {
  bin: string;
  /** Set when we run as root: PostgreSQL refuses root, so it runs as the `postgres` user. */
  user?: { uid: number; gid: number };
}

function findPostgres(): PostgresBinaries | string {
  const candidates: string[] = [];
  const onPath = Bun.which('postgres');
  if (onPath) candidates.push(dirname(realpathSync(onPath)));
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  const bin = candidates.find((dir) => existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb')));
  if (!bin) return 'PostgreSQL is not installed (apt-get install -y postgresql)';
  if (process.getuid?.() !== 0) return { bin };
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return 'running as root and there is no postgres user to run PostgreSQL as';
  const [, , uid, gid] = line.split(':');
  return { bin, user: { uid: Number(uid), gid: Number(gid) } };
}

let found: PostgresBinaries | string | undefined;
function postgres(): PostgresBinaries | string {
  return (found ??= findPostgres());
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  const p = postgres();
  return typeof p === 'string' ? p : undefined;
}

/**
 * An empty cluster made by initdb once per machine (per PostgreSQL binaries and user), kept in the
 * temp dir and reused by later runs: each engine starts from a copy (~40 MB, fast). It appears
 * with an atomic rename, so a run never sees half of one.
 */
let template: string | undefined;

function ownedTempDir(prefix: string, user: PostgresBinaries['user']): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

async function initTemplate(p: PostgresBinaries): Promise<string> {
  if (template) return template;
  const stable = join(tmpdir(), `chat-pg-template-${p.bin.replace(/[^A-Za-z0-9]+/g, '_')}-${process.getuid?.() ?? 0}`);
  if (existsSync(join(stable, 'PG_VERSION'))) return (template = stable);
  const dir = ownedTempDir('chat-pg-init-', p.user);
  const data = join(dir, 'data');
  const init = Bun.spawn([join(p.bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    stdout: 'pipe',
    stderr: 'pipe',
    uid: p.user?.uid,
    gid: p.user?.gid,
  });
  if ((await init.exited) !== 0) throw new Error(`initdb failed: ${await new Response(init.stderr).text()}`);
  try {
    renameSync(data, stable);
  } catch (error) {
    // Another test process made it first: use theirs.
    if (!existsSync(join(stable, 'PG_VERSION'))) throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  return (template = stable);
}

/**
 * Engine directories left by test processes that died before stopping them (bun test runs no exit
 * handlers): removed when their postmaster is gone and they are an hour old.
 */
function sweepStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!/^chat-pg-(?!template-)/.test(name)) continue;
    const dir = join(tmpdir(), name);
    try {
      if (Date.now() - statSync(dir).mtimeMs < 3600_000) continue;
      const pidFile = join(dir, 'data', 'postmaster.pid');
      if (existsSync(pidFile) && isAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]))) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Someone else's, or gone meanwhile: leave it.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let databases = 0;

export class PostgresEngine {
  private proc: Proc | undefined;
  private admin: SQL | undefined;

  private constructor(
    private readonly binaries: PostgresBinaries,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** A PostgreSQL of its own: a copy of an empty cluster in a temp dir, a free port, loopback only. */
  static async start(): Promise<PostgresEngine> {
    const p = postgres();
    if (typeof p === 'string') throw new Error(p);
    sweepStaleDirs();
    const from = await initTemplate(p);
    const dir = ownedTempDir('chat-pg-', p.user);
    // cp -a keeps owner and mode (PostgreSQL insists on its own 0700 data dir).
    const copy = Bun.spawnSync(['cp', '-a', from, join(dir, 'data')], { stderr: 'pipe' });
    if (!copy.success) throw new Error(`copying the PostgreSQL template failed: ${copy.stderr.toString()}`);
    return onFreePort(async (port) => {
      const engine = new PostgresEngine(p, dir, port);
      await engine.restart();
      return engine;
    });
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The URL of `database` on this engine. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts it (again) on the same data and port; after `crash()` it recovers from its WAL first. */
  async restart(): Promise<void> {
    await killAndWait(this.proc, 'SIGKILL');
    this.proc = await spawnUntil(
      [
        join(this.binaries.bin, 'postgres'),
        '-D', join(this.dir, 'data'),
        '-p', String(this.port),
        '-k', this.dir,
        '-c', 'listen_addresses=127.0.0.1',
        // Tests lose nothing to fsync=off unless the machine itself goes down: a killed postgres
        // still leaves its WAL in the page cache, and recovery replays it.
        '-c', 'fsync=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=200',
      ],
      /database system is ready to accept connections/,
      { uid: this.binaries.user?.uid, gid: this.binaries.user?.gid, ms: 30_000 },
    );
  }

  /** A new empty database; returns its URL. */
  async createDatabase(): Promise<string> {
    const name = `chat_${process.pid}_${++databases}`;
    this.admin ??= new SQL({ url: this.url(), max: 1 });
    await this.admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 STRATEGY FILE_COPY`);
    return this.url(name);
  }

  /**
   * Stops it abruptly: immediate shutdown (SIGQUIT), which aborts every connection and writes
   * nothing — the next start recovers from the WAL as after a crash.
   */
  async crash(): Promise<void> {
    await this.closeAdmin();
    await killAndWait(this.proc, 'SIGQUIT');
  }

  /** SIGSTOP to the postmaster and every backend: connections stay open, nothing answers. */
  pause(): void {
    if (this.proc) for (const pid of [this.proc.pid, ...descendants(this.proc.pid)]) signal(pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.proc) for (const pid of [this.proc.pid, ...descendants(this.proc.pid)]) signal(pid, 'SIGCONT');
  }

  /** Fast shutdown, then the temp dir is removed. */
  async stop(): Promise<void> {
    await this.closeAdmin();
    this.resume();
    await killAndWait(this.proc, 'SIGINT');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async closeAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.close({ timeout: 0 }).catch(() => {});
  }
}

/** The processes below `pid` (PostgreSQL's backends), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    // The command name (2nd field) is in parentheses and may hold spaces: the ppid follows its last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

// A real redis-server for tests: fresh and empty, no persistence, on a free loopback port; it can
// be SIGKILLed and started again empty, or paused (SIGSTOP) and resumed.

import { tmpdir } from 'node:os';
import { killAndWait, onFreePort, type Proc, spawnUntil } from './engine-process.ts';

/** Why the Redis tests cannot run here, or undefined when they can. */
export function redisMissing(): string | undefined {
  return Bun.which('redis-server') ? undefined : 'redis-server is not installed (apt-get install -y redis-server)';
}

export class RedisEngine {
  private proc: Proc | undefined;
  private constructor(readonly port: number) {}

  /** A fresh, empty redis-server with no persistence on a free loopback port. */
  static async start(): Promise<RedisEngine> {
    return onFreePort(async (port) => {
      const engine = new RedisEngine(port);
      await engine.restart();
      return engine;
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Whether the process is up (not killed, not exited). */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts it (again) on the same port, empty. */
  async restart(): Promise<void> {
    await killAndWait(this.proc, 'SIGKILL');
    this.proc = await spawnUntil(
      ['redis-server', '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--dir', tmpdir()],
      /Ready to accept connections/,
    );
  }

  /** SIGKILL: everything it held is gone, and clients see their connections drop. */
  async kill(): Promise<void> {
    await killAndWait(this.proc, 'SIGKILL');
  }

  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await killAndWait(this.proc, 'SIGKILL');
  }
}

// The processes of the real engines the tests start (tests/helpers/redis-engine.ts and
// postgres-engine.ts): spawned and waited for until they say they are ready, on a free loopback
// port, killed if this process exits first. Tests import the engines from tests/helpers/engines.ts.

import type { Subprocess } from 'bun';

export type Proc = Subprocess<'ignore', 'pipe', 'pipe'>;

/**
 * How long a test hook may take to start an engine (initdb, a copy, a start, on a busy machine):
 * pass it to beforeAll and to tests that restart an engine.
 */
export const ENGINE_START_MS = 30_000;

/**
 * Every engine process this process started: killed if it exits first. (bun test emits no 'exit':
 * tests stop their engines in afterAll, and bun kills what a timed-out hook left running.)
 */
const running = new Set<Proc>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/**
 * Spawns `cmd` and resolves once one of its output streams shows `ready`; rejects (with what it
 * printed) if it exits first or takes longer than `ms`. Both streams are drained for its whole life.
 */
export async function spawnUntil(cmd: string[], ready: RegExp, options: { uid?: number; gid?: number; ms?: number } = {}): Promise<Proc> {
  const proc = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', uid: options.uid, gid: options.gid }) as Proc;
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  let output = '';
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const drain = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      if (output.length < 64_000) output += decoder.decode(chunk, { stream: true });
      if (ready.test(output)) resolve();
    }
  };
  void drain(proc.stdout).catch(() => {});
  void drain(proc.stderr).catch(() => {});
  void proc.exited.then((code) => reject(new Error(`${cmd[0]} exited (${code}) before it was ready:\n${output}`)));
  const timer = setTimeout(() => reject(new Error(`${cmd[0]} was not ready after ${options.ms ?? 10_000} ms:\n${output}`)), options.ms ?? 10_000);
  try {
    await promise;
  } catch (error) {
    proc.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return proc;
}

/** Starts something on a free port, trying another port if someone took that one meanwhile. */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(freePort());
    } catch (error) {
      if (attempt >= 3 || !/already in use/i.test(String(error))) throw error;
    }
  }
}

export async function killAndWait(proc: Proc | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  await proc.exited;
}

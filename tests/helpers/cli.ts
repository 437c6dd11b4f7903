// Runs the real `chat` command line as a child process, with piped stdin.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/** Where client processes in tests keep the ids they have shown, instead of the user's home. */
export const STATE_DIR = mkdtempSync(join(tmpdir(), 'chat-state-'));

/** How to run the CLI: CHAT_BIN (a compiled binary) if set, else the sources under Bun. */
export const CHAT: string[] = process.env.CHAT_BIN ? [process.env.CHAT_BIN] : [process.execPath, join(import.meta.dir, '../../src/cli.ts')];

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `chat ...args` to completion with `stdin` as its whole input. */
export async function runCli(args: string[], options: { stdin?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const proc = Bun.spawn([...CHAT, ...args], {
    stdin: options.stdin === undefined ? 'ignore' : new Blob([options.stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', CHAT_STATE_DIR: STATE_DIR, ...options.env },
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 8000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A client process whose stdin stays open: write lines, wait for output, then end or kill it. */
export class LiveClient {
  stdout = '';
  private readonly proc: Subprocess<'pipe', 'pipe', 'pipe'>;
  private wakers: (() => void)[] = [];
  readonly exited: Promise<number>;

  constructor(port: number, args: string[] = [], env: Record<string, string> = {}) {
    this.proc = Bun.spawn([...CHAT, 'connect', String(port), ...args], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      env: { ...process.env, NO_COLOR: '1', CHAT_STATE_DIR: STATE_DIR, ...env },
    });
    this.exited = this.proc.exited;
    void this.read();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.proc.stdout) {
      this.stdout += decoder.decode(chunk, { stream: true });
      for (const wake of this.wakers.splice(0)) wake();
    }
    for (const wake of this.wakers.splice(0)) wake();
  }

  write(line: string): void {
    this.proc.stdin.write(`${line}\n`);
    this.proc.stdin.flush();
  }

  /** Types the username and password and waits for the welcome. */
  async logIn(user: string, password: string): Promise<void> {
    this.write(user);
    this.write(password);
    await this.waitFor(`Welcome, ${user}!`);
  }

  endInput(): void {
    this.proc.stdin.end();
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }

  /** Waits until stdout matches `pattern` (searched in all output so far). */
  async waitFor(pattern: RegExp | string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    const hit = () => (typeof pattern === 'string' ? this.stdout.includes(pattern) : pattern.test(this.stdout));
    while (!hit()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; stdout so far:\n${this.stdout}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stderr(): Promise<string> {
    return new Response(this.proc.stderr).text();
  }
}

// The real server as a child process (`chat serve`), for tests of signals, exit codes and what is
// on disk afterwards. Its first stdout line says where it listens.

import type { Subprocess } from 'bun';
import { CHAT } from './cli.ts';

interface Output {
  text: string;
}

export class ServerProcess {
  private constructor(
    private readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>,
    readonly port: number,
    private readonly log: Output,
    /** Resolves when stderr has been read to its end. */
    private readonly logDone: Promise<void>,
  ) {}

  /** Starts `chat serve 0 <block> <timeout> --host 127.0.0.1 ...args` and waits for its listening line. */
  static async start(args: string[], options: { blockSeconds?: number; timeoutSeconds?: number; ms?: number } = {}): Promise<ServerProcess> {
    const proc = Bun.spawn([...CHAT, 'serve', '0', String(options.blockSeconds ?? 60), String(options.timeoutSeconds ?? 300), '--host', '127.0.0.1', ...args], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const log: Output = { text: '' };
    const logDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr) log.text += decoder.decode(chunk, { stream: true });
    })();
    const killer = setTimeout(() => proc.kill('SIGKILL'), options.ms ?? 5000);
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    let out = '';
    while (!out.includes('\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    clearTimeout(killer);
    const match = /^chat server listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
    if (!match) {
      proc.kill('SIGKILL');
      await proc.exited;
      await logDone;
      throw new Error(`the server did not start; stdout: ${JSON.stringify(out)}; stderr: ${log.text}`);
    }
    // Keep reading stdout so that the pipe never fills.
    void (async () => {
      while (!(await reader.read()).done);
    })();
    return new ServerProcess(proc, Number(match[1]), log, logDone);
  }

  /** What the server has logged so far. */
  get stderr(): string {
    return this.log.text;
  }

  signal(name: 'SIGTERM' | 'SIGINT' | 'SIGKILL'): void {
    this.proc.kill(name);
  }

  /** Waits for the exit (SIGKILL after `ms`); its code and everything it logged. */
  async stopped(ms = 5000): Promise<{ code: number; stderr: string }> {
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const code = await this.proc.exited;
    clearTimeout(killer);
    await this.logDone;
    return { code, stderr: this.log.text };
  }
}

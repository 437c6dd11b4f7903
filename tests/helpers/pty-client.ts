// The real client on a pseudo-terminal (Bun.Terminal), with a headless terminal emulator
// (@xterm/headless) turning its output into a screen that tests can read.

import xterm from '@xterm/headless';
import type { Subprocess } from 'bun';
import { CHAT, STATE_DIR } from './cli.ts';

export const KEY = { enter: '\r', tab: '\t', up: '\x1b[A', ctrlD: '\x04', ctrlC: '\x03' } as const;

export class PtyClient {
  /** Everything the client wrote to the terminal, escape sequences included. */
  raw = '';
  private readonly screen: xterm.Terminal;
  private readonly terminal: Bun.Terminal;
  private readonly proc: Subprocess;
  private pendingWrites = 0;
  readonly exited: Promise<number>;

  /**
   * `chat connect <port> ...args` on a new terminal; `argv` replaces the whole command line (e.g.
   * `bun run chat serve ...`), run in `cwd`.
   */
  constructor(port: number, options: { env?: Record<string, string>; cols?: number; rows?: number; args?: string[]; argv?: string[]; cwd?: string } = {}) {
    const cols = options.cols ?? 100;
    const rows = options.rows ?? 30;
    this.screen = new xterm.Terminal({ cols, rows, allowProposedApi: true });
    this.terminal = new Bun.Terminal({
      cols,
      rows,
      data: (_t, data) => {
        this.raw += new TextDecoder().decode(data);
        this.pendingWrites++;
        this.screen.write(data, () => this.pendingWrites--);
      },
    });
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TERM: 'xterm-256color', CHAT_STATE_DIR: STATE_DIR, ...options.env };
    if (!options.env || !('NO_COLOR' in options.env)) delete env.NO_COLOR;
    this.proc = Bun.spawn(options.argv ?? [...CHAT, 'connect', String(port), ...(options.args ?? [])], { terminal: this.terminal, env, cwd: options.cwd });
    this.exited = this.proc.exited;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Sends keystrokes, as a person typing. */
  type(keys: string): void {
    this.terminal.write(keys);
  }

  /** The visible lines, trailing spaces trimmed. */
  lines(): string[] {
    const buffer = this.screen.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.screen.rows; i++) out.push(buffer.getLine(buffer.viewportY + i)?.translateToString(true) ?? '');
    return out;
  }

  /** The text of the row the cursor is on. */
  cursorRow(): string {
    const buffer = this.screen.buffer.active;
    return (buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? "").trimEnd();
  }

  text(): string {
    return this.lines().join('\n');
  }

  /** Waits until the screen (fully parsed) satisfies `check`. */
  async waitFor(check: string | RegExp | (() => boolean), ms = 4000): Promise<void> {
    const ok = () => (typeof check === 'function' ? check() : typeof check === 'string' ? this.text().includes(check) : check.test(this.text()));
    const deadline = Date.now() + ms;
    while (this.pendingWrites > 0 || !ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(check)}; screen:\n${this.text()}`);
      await Bun.sleep(10);
    }
  }

  async login(user: string, password: string): Promise<void> {
    await this.waitFor('Username: ');
    this.type(`${user}${KEY.enter}`);
    await this.waitFor('Password: ');
    this.type(`${password}${KEY.enter}`);
    await this.waitFor(`Welcome, ${user}!`);
    await this.waitFor(() => this.cursorRow() === ">");
  }

  kill(): void {
    this.proc.kill('SIGKILL');
    this.terminal.close();
  }
}

// The window changes size under the line being typed (issue 11, item 7), in a real terminal
// multiplexer that reflows text as terminals do (tmux): no stale copy of the half-typed line is
// left behind, narrower or wider. Skipped, saying why, where tmux is not installed.

import { afterEach, describe, expect, test } from 'bun:test';

import { CHAT, STATE_DIR } from '../helpers/cli.ts';
import { as, type RawClient } from '../helpers/raw-client.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { trackKillables } from '../helpers/cleanup.ts';

const TMUX = Bun.which('tmux');
if (!TMUX) console.warn('resize.test.ts: tmux is not installed; the resize test is skipped');

/** One tmux server of its own (a socket in a temporary directory), one window running `argv`. */
class Tmux {
  private readonly env = { ...process.env, TMUX_TMPDIR: tempDir(), TMUX: '' } as Record<string, string>;
  constructor(argv: string[], cols: number, rows: number) {
    this.run(['new-session', '-d', '-s', 'w', '-x', String(cols), '-y', String(rows), argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')]);
  }
  run(args: string[]): string {
    const r = Bun.spawnSync([TMUX as string, '-L', 'chat-test', '-f', '/dev/null', ...args], { env: this.env });
    return r.stdout.toString();
  }
  lines(): string[] {
    return this.run(['capture-pane', '-p', '-t', 'w']).split('\n').map((l) => l.trimEnd());
  }
  keys(text: string): void {
    this.run(['send-keys', '-t', 'w', '-l', text]);
  }
  enter(): void {
    this.run(['send-keys', '-t', 'w', 'Enter']);
  }
  /** Resizes the window; resolves once the terminal itself has the new size (tmux applies it to
   * the pane's terminal a moment after it reflows its screen). */
  async resize(cols: number, rows: number): Promise<void> {
    this.run(['resize-window', '-t', 'w', '-x', String(cols), '-y', String(rows)]);
    const tty = this.run(['display-message', '-p', '-t', 'w', '#{pane_tty}']).trim();
    const size = () => Bun.spawnSync(['stty', '-F', tty, 'size']).stdout.toString().trim();
    const deadline = Date.now() + 4000;
    while (size() !== `${rows} ${cols}`) {
      if (Date.now() > deadline) throw new Error(`the terminal never became ${cols}x${rows}: ${size()}`);
      await Bun.sleep(10);
    }
  }
  async waitFor(check: (lines: string[]) => boolean, what: string, ms = 4000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check(this.lines())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${this.lines().join('\n')}`);
      await Bun.sleep(20);
    }
  }
  kill(): void {
    this.run(['kill-server']);
  }
}

let server: TestServer | undefined;
const track = trackKillables();
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('CLI-1 a resized terminal', () => {
  test.skipIf(!TMUX)('the half-typed line is redrawn once, narrower and wider, and messages still print above it', async () => {
    server = await startTestServer();
    const yoda: RawClient = await as(server.port, 'yoda');
    track(yoda);
    const tmux = new Tmux(['env', `CHAT_STATE_DIR=${STATE_DIR}`, 'NO_COLOR=1', ...CHAT, 'connect', String(server.port)], 100, 20);
    track(tmux);
    const has = (text: string) => (lines: string[]) => lines.some((l) => l.includes(text));
    await tmux.waitFor(has('Username:'), 'the username prompt');
    tmux.keys('hans');
    tmux.enter();
    await tmux.waitFor(has('Password:'), 'the password prompt');
    tmux.keys('falcon*solo');
    tmux.enter();
    await tmux.waitFor(has('Welcome, hans!'), 'the welcome');
    const typed = 'whoelse and then a line that is far too long for thirty columns';
    tmux.keys(typed);
    await tmux.waitFor(has('thirty columns'), 'the typed line');
    const copies = (lines: string[]) => lines.filter((l) => l.startsWith('> whoelse')).length;
    for (const cols of [30, 100, 45]) {
      await tmux.resize(cols, 20);
      await yoda.request(`message hans now ${cols} columns`);
      await tmux.waitFor(has(`yoda: now ${cols} columns`), `the message at ${cols} columns`);
      await tmux.waitFor((lines) => lines.join('').includes(`> ${typed}`), `the typed line redrawn at ${cols} columns`);
      expect(copies(tmux.lines())).toBe(1);
    }
  }, 15_000);
});


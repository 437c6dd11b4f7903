// `chat serve …` as its own process, resolved once it logs that it listens. Both of its streams are
// read for its whole life (a closed pipe would kill it at its next line); `log()` is its stderr so far.
// Used by the cluster tests and bench/cluster.ts, which start several nodes.

import type { Subprocess } from 'bun';
import { CHAT, STATE_DIR } from './cli.ts';

export interface ServeProcess {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything the server wrote to stderr so far (its log). */
  log(): string;
}

export async function spawnServe(args: readonly string[], command: readonly string[] = CHAT): Promise<ServeProcess> {
  const proc = Bun.spawn([...command, 'serve', ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, NO_COLOR: '1', CHAT_STATE_DIR: STATE_DIR },
  });
  let err = '';
  const decoder = new TextDecoder();
  // `listening on` is the last line of the start: once stderr has it, every engine line is there.
  let started!: () => void;
  const listening = new Promise<void>((resolve) => (started = resolve));
  void (async () => {
    for await (const chunk of proc.stderr) {
      err += decoder.decode(chunk, { stream: true });
      if (err.includes('listening on')) started();
    }
    started();
  })();
  void (async () => {
    for await (const _ of proc.stdout);
  })();
  await listening;
  if (!err.includes('listening on')) throw new Error(`chat serve ${args.join(' ')} did not start: ${err}`);
  return { proc, log: () => err };
}

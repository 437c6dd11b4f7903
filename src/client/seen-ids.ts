// Which messages this user has been shown, per server database, kept on disk so that a message
// delivered again (after a lost acknowledgement, or by another node after one died) is shown once,
// even by a new client process. The rule is src/protocol/shown-once.ts (CLU-3).

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ShownOnce, type Sighting } from '../protocol/shown-once.ts';

/** $CHAT_STATE_DIR, else $XDG_STATE_HOME/chat, else ~/.local/state/chat. */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.CHAT_STATE_DIR) return env.CHAT_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'chat');
}

export class SeenKeys {
  private changed = false;

  private constructor(
    private readonly file: string | undefined,
    /** `<server>/<user>`: the entry in seen.json. */
    private readonly name: string,
    readonly shown: ShownOnce,
  ) {}

  /** Reads what was seen of `server` as `user`; a missing or unreadable file means nothing yet; no `dir`, nothing kept. */
  static open(dir: string | undefined, server: unknown, user: string): SeenKeys {
    const name = `${String(server)}/${user}`;
    if (!dir) return new SeenKeys(undefined, name, new ShownOnce());
    const file = join(dir, 'seen.json');
    return new SeenKeys(file, name, new ShownOnce(readAll(file)[name]));
  }

  /** True the first time a message comes; then it counts as seen. */
  firstSight(line: Sighting): boolean {
    const first = this.shown.firstSight(line);
    if (first) this.changed = true;
    return first;
  }

  /**
   * Writes what was shown before the server is told (ack): written to a temporary file and
   * renamed, so a crash leaves the old state or the new one. Failing to write only costs exactly-once.
   */
  save(): void {
    if (!this.file || !this.changed) return;
    try {
      const all = readAll(this.file);
      all[this.name] = this.shown.toJSON();
      mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
      const temp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(all));
      renameSync(temp, this.file);
      this.changed = false;
    } catch {
      // Read-only home, full disk: messages may be shown twice, nothing worse.
    }
  }
}

function readAll(file: string): Record<string, unknown> {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {};
  }
}

// The highest message id this user has been shown, per server database, kept on disk so that a
// message delivered again after a lost acknowledgement is shown once, even by a new client process.
// Ids only grow (the server reserves them durably), so one number per user says it all.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $CHAT_STATE_DIR, else $XDG_STATE_HOME/chat, else ~/.local/state/chat. */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.CHAT_STATE_DIR) return env.CHAT_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'chat');
}

export class SeenIds {
  private saved: number;

  private constructor(
    private readonly file: string | undefined,
    private readonly key: string,
    /** Highest id shown. */
    public upTo: number,
  ) {
    this.saved = upTo;
  }

  /** Reads what was seen of `server` as `user`; a missing or unreadable file means nothing yet. */
  static open(dir: string | undefined, server: unknown, user: string): SeenIds {
    const key = `${String(server)}/${user}`;
    if (!dir) return new SeenIds(undefined, key, 0);
    const file = join(dir, 'seen.json');
    return new SeenIds(file, key, Number(readAll(file)[key]) || 0);
  }

  /** True the first time an id above everything seen comes; then it counts as seen. */
  firstSight(id: number): boolean {
    if (id <= this.upTo) return false;
    this.upTo = id;
    return true;
  }

  /**
   * Writes the mark before the server is told (ack): written to a temporary file and renamed, so
   * a crash leaves the old mark or the new one. Failing to write only costs exactly-once.
   */
  save(): void {
    if (!this.file || this.saved === this.upTo) return;
    try {
      const all = readAll(this.file);
      all[this.key] = Math.max(this.upTo, Number(all[this.key]) || 0);
      mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
      const temp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(all));
      renameSync(temp, this.file);
      this.saved = this.upTo;
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

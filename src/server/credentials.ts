// The credentials file (AUTH-1): `username secret` a line, where the secret is a password or a hash.
// Read once at start-up; new accounts are appended so that a crash mid-write never harms existing lines.

import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MAX_NAME_CHARS, MAX_PASSWORD_CHARS } from '../protocol/limits.ts';

export interface Credentials {
  readonly accounts: Map<string, string>;
  /** One line per malformed or repeated line: `credentials.txt:7: ...`. */
  readonly problems: string[];
  /** False when the file did not exist; it is created at the first registration. */
  readonly existed: boolean;
}

const LINE = /^(\S+) (\S+)$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function parseCredentials(text: string, name = 'credentials'): Omit<Credentials, 'existed'> {
  const accounts = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const where = `${name}:${index + 1}`;
    const match = LINE.exec(line);
    if (!match || CONTROL.test(line)) {
      problems.push(`${where}: expected "username password" separated by one space; line skipped`);
      return;
    }
    const [, user, secret] = match as unknown as [string, string, string];
    if ([...user].length > MAX_NAME_CHARS || [...secret].length > MAX_PASSWORD_CHARS * 4) {
      problems.push(`${where}: username longer than ${MAX_NAME_CHARS} characters or secret too long; line skipped`);
    } else if (accounts.has(user)) {
      problems.push(`${where}: "${user}" appears again; the first entry is kept`);
    } else {
      accounts.set(user, secret);
    }
  });
  return { accounts, problems };
}

/** Reads the file; a missing file gives no accounts. Throws a one-line Error when it cannot be read. */
export async function loadCredentials(path: string): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { accounts: new Map(), problems: [], existed: false };
    throw new Error(`cannot read credentials file ${path}: ${describe(err)}`);
  }
  return { ...parseCredentials(text, path), existed: true };
}

/**
 * Appends accounts one at a time. Each append is a single write of a whole line to a file opened
 * for appending, followed by fsync: existing lines are never rewritten, and a crash can at worst leave
 * a partial last line, which the next start reports as malformed and skips.
 */
export class CredentialsAppender {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  append(user: string, secret: string): Promise<void> {
    const next = this.tail.then(() => this.write(`${user} ${secret}\n`));
    this.tail = next.catch(() => {});
    return next;
  }

  private async write(line: string): Promise<void> {
    const file = await open(this.path, 'a+');
    try {
      const { size } = await file.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      await file.write(prefix + line);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}

export function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'it is a directory';
  if (e?.code === 'ENOENT') return 'no such file or directory';
  return e?.message ?? String(err);
}

export interface HashReport {
  hashed: number;
  alreadyHashed: number;
  /** Malformed lines, left exactly as they were (with line numbers). */
  problems: string[];
}

/**
 * `chat hash-credentials FILE`: replaces every plain password with its hash. The new file is
 * written beside the old one, synced, and renamed over it, so a crash leaves one or the other,
 * never a mix. If the file changes meanwhile (a registration), the work is redone.
 */
export async function hashCredentialsFile(path: string, hash: (password: string) => Promise<string>, isHash: (secret: string) => boolean): Promise<HashReport> {
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read credentials file ${path}: ${describe(err)}`);
    }
    const report: HashReport = { hashed: 0, alreadyHashed: 0, problems: parseCredentials(text, path).problems };
    const lines = await Promise.all(
      text.split('\n').map(async (raw) => {
        const match = LINE.exec(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
        if (!match || CONTROL.test(raw.replace(/\r$/, ''))) return raw;
        const [, user, secret] = match as unknown as [string, string, string];
        if (isHash(secret)) {
          report.alreadyHashed++;
          return raw;
        }
        report.hashed++;
        return `${user} ${await hash(secret)}`;
      }),
    );
    if (report.hashed === 0) return report;
    const { mode } = await stat(path);
    const temp = `${path}.tmp-${process.pid}`;
    const file = await open(temp, 'w', mode);
    try {
      await file.write(lines.join('\n'));
      await file.sync();
    } finally {
      await file.close();
    }
    if ((await readFile(path, 'utf8')) !== text && attempt < 3) {
      await unlink(temp);
      continue;
    }
    await rename(temp, path);
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
    return report;
  }
}

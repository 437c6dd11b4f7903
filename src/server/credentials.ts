// The credentials file (AUTH-1): `username secret` a line, where the secret is a password or a hash.
// Read once at start-up; new accounts are appended so that a crash mid-write never harms existing lines.

// node:fs/promises only when a file is written (a registration, hash-credentials): loading node:fs
// costs ~5 MiB of RSS (B8), and a start only reads, which Bun.file does.
const fs = () => import('node:fs/promises');
import { dirname } from 'node:path';
import { MAX_NAME_CHARS, MAX_PASSWORD_CHARS } from '../protocol/limits.ts';
import { AccountTable } from './accounts.ts';

export interface Credentials {
  readonly accounts: AccountTable;
  /** One line per malformed or repeated line: `credentials.txt:7: ...`. */
  readonly problems: string[];
  /** False when the file did not exist; it is created at the first registration. */
  readonly existed: boolean;
}

const LINE = /^(\S+) (\S+)$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Printable ASCII, one space, printable ASCII: a line that LINE matches and CONTROL does not. */
const PLAIN_LINE = /[!-~]+ [!-~]+/y;

/**
 * The accounts are an index into `text` (accounts.ts). Lines are read in place: a plain line
 * (PLAIN_LINE up to its end) makes no string at all; any other is checked as a string by LINE and
 * CONTROL, as every line was. The old way (the file split into lines, a match array a line, a Map
 * of strings) cost ~10 MiB of RSS at 19,000 accounts (B8), with the JIT compiling its loop.
 */
export function parseCredentials(text: string, name = 'credentials'): Omit<Credentials, 'existed'> {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  const accounts = new AccountTable(text, lines);
  const problems: string[] = [];
  let lineNumber = 0;
  /** The account whose name runs from `start` to `nameEnd`, unless its line is too long or the name repeats. */
  const add = (start: number, nameEnd: number, tooLongLine: boolean) => {
    if (tooLongLine) {
      problems.push(`${name}:${lineNumber}: username longer than ${MAX_NAME_CHARS} characters or secret too long; line skipped`);
    } else if (!accounts.addLine(start, nameEnd)) {
      problems.push(`${name}:${lineNumber}: "${text.slice(start, nameEnd)}" appears again; the first entry is kept`);
    }
  };
  for (let at = 0; at <= text.length; ) {
    lineNumber++;
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const stop = end > at && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
    PLAIN_LINE.lastIndex = at;
    if (PLAIN_LINE.test(text) && PLAIN_LINE.lastIndex === stop) {
      const space = text.indexOf(' ', at);
      // ASCII: UTF-16 units are characters.
      add(at, space, space - at > MAX_NAME_CHARS || stop - space - 1 > MAX_PASSWORD_CHARS * 4);
    } else {
      const raw = text.slice(at, end);
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const match = line.trim() === '' ? undefined : LINE.exec(line);
      if (match === undefined) {
        // A blank line.
      } else if (!match || CONTROL.test(line)) {
        problems.push(`${name}:${lineNumber}: expected "username password" separated by one space; line skipped`);
      } else {
        const [, user, secret] = match as unknown as [string, string, string];
        // Counted in code points only when UTF-16 units say it may be too long (no array a line at start).
        add(at, at + user.length, tooLong(user, MAX_NAME_CHARS) || tooLong(secret, MAX_PASSWORD_CHARS * 4));
      }
    }
    at = end + 1;
  }
  return { accounts, problems };
}

function tooLong(text: string, maxChars: number): boolean {
  return text.length > maxChars && [...text].length > maxChars;
}

/** Reads the file; a missing file gives no accounts. Throws a one-line Error when it cannot be read. */
export async function loadCredentials(path: string): Promise<Credentials> {
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { accounts: new AccountTable(), problems: [], existed: false };
    throw new Error(`cannot read credentials file ${path}: ${describe(err)}`);
  }
  return { ...parseCredentials(stripBom(text), path), existed: true };
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

  // Under the lock that `chat hash-credentials` takes too (SEC-4), so that its rewrite cannot drop
  // the line. A program that replaces the file without the lock is caught afterwards: when the
  // path no longer names the file written to, the line is written again to the one it names.
  private async write(line: string): Promise<void> {
    await withFileLock(this.path, async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await appendLine(this.path, line)) return;
      }
      throw new Error(`${this.path} keeps being replaced while the account is written`);
    });
  }
}

/** Appends one whole line and syncs; true when `path` still names the file written to. */
async function appendLine(path: string, line: string): Promise<boolean> {
  const { open, stat } = await fs();
  // 0600 when the file is created (SEC-7): it holds password hashes.
  const file = await open(path, 'a+', 0o600);
  try {
    const { size, ino, dev } = await file.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await file.write(prefix + line);
    await file.sync();
    const now = await stat(path).catch(() => undefined);
    return now !== undefined && now.ino === ino && now.dev === dev;
  } finally {
    await file.close();
  }
}

/**
 * Runs `fn` holding `<path>.lock`, a file made with O_EXCL that holds the owner's pid. The server's
 * appends and `chat hash-credentials` both take it; a lock whose process is gone is taken over.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, waitMs = 30_000): Promise<T> {
  const { open, readFile, unlink } = await fs();
  const lock = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const file = await open(lock, 'wx', 0o600);
      await file.write(String(process.pid));
      await file.close();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A directory we may not write to: nobody can write a rewrite beside the file either.
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return fn();
      if (code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    // Our own pid on a lock this process does not hold is a leftover (in a container the server
    // is pid 1 at every start).
    if (owner > 0 && (owner === process.pid ? !held.has(lock) : !alive(owner))) {
      await unlink(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${path} is locked by process ${owner || '?'} (${lock})`);
    await Bun.sleep(10);
  }
  held.add(lock);
  try {
    return await fn();
  } finally {
    held.delete(lock);
    await unlink(lock).catch(() => {});
  }
}

/** Lock files this process holds now. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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
 * `chat hash-credentials FILE`: replaces every plain password with its hash. The hashing is done
 * first, without the lock; then, holding the lock the server's registrations take too (SEC-4), the
 * file is read again, lines added meanwhile are hashed as well, and the new file is written beside
 * the old one, synced and renamed over it. A crash leaves one or the other, never a mix, and no
 * registration the server acknowledged is lost.
 */
export async function hashCredentialsFile(path: string, hash: (password: string) => Promise<string>, isHash: (secret: string) => boolean): Promise<HashReport> {
  const { open, readFile, rename, stat } = await fs();
  const read = async () => {
    try {
      return stripBom(await readFile(path, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read credentials file ${path}: ${describe(err)}`);
    }
  };
  const done = new Map<string, string>();
  const hashAll = async (text: string): Promise<{ lines: string[]; report: HashReport }> => {
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
        let line = done.get(raw);
        if (line === undefined) done.set(raw, (line = `${user} ${await hash(secret)}`));
        return line;
      }),
    );
    return { lines, report };
  };
  await hashAll(await read());
  return withFileLock(path, async () => {
    const { lines, report } = await hashAll(await read());
    if (report.hashed === 0) return report;
    const { mode } = await stat(path);
    const temp = `${path}.tmp-${process.pid}`;
    const file = await open(temp, 'w', mode & 0o777);
    try {
      await file.write(lines.join('\n'));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
    return report;
  });
}

/** A byte-order mark at the start is not part of the first username (editors on Windows add it). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** SEC-7: a line for the log when a file holding secrets can be read by others than its owner. */
export async function exposureWarning(path: string, what: string): Promise<string | undefined> {
  const mode = (await Bun.file(path).stat().catch(() => undefined))?.mode;
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return `${what} ${path} can be read by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`;
}

import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CredentialsAppender, loadCredentials, parseCredentials, withFileLock } from '../../src/server/credentials.ts';
import { tempDir } from '../helpers/test-server.ts';

describe('credentials file (AUTH-1)', () => {
  test('one "username password" a line; case-sensitive; blank lines ignored; CRLF accepted', () => {
    const { accounts, problems } = parseCredentials('hans falcon*solo\n\n  \nHans other\r\nleia $blasterpistol$\n');
    expect([...accounts]).toEqual([
      ['hans', 'falcon*solo'],
      ['Hans', 'other'],
      ['leia', '$blasterpistol$'],
    ]);
    expect(problems).toEqual([]);
  });

  test('malformed lines are reported with their line number and skipped', () => {
    const text = ['hans falcon*solo', 'onlyname', 'two  spaces', 'three words here', ' leading x', 'tab\tsep', 'yoda wise@!man', 'hans again'].join('\n');
    const { accounts, problems } = parseCredentials(text, 'creds.txt');
    expect([...accounts.keys()]).toEqual(['hans', 'yoda']);
    expect(problems.map((p) => p.split(':').slice(0, 2).join(':'))).toEqual(['creds.txt:2', 'creds.txt:3', 'creds.txt:4', 'creds.txt:5', 'creds.txt:6', 'creds.txt:8']);
    expect(problems.at(-1)).toContain('appears again');
  });

  test('a missing file means no accounts yet; an unreadable one is an error', async () => {
    const dir = tempDir();
    expect((await loadCredentials(join(dir, 'none.txt'))).existed).toBe(false);
    await expect(loadCredentials(dir)).rejects.toThrow('cannot read credentials file');
  });

  test('appending adds whole lines and never touches existing ones, even without a final newline', async () => {
    const path = join(tempDir(), 'credentials.txt');
    writeFileSync(path, 'hans falcon*solo\nyoda wise@!man');
    const appender = new CredentialsAppender(path);
    await Promise.all([appender.append('new1', 'pw1'), appender.append('new2', 'pw2')]);
    expect(readFileSync(path, 'utf8')).toBe('hans falcon*solo\nyoda wise@!man\nnew1 pw1\nnew2 pw2\n');
  });

  test('a partial last line left by a crash is skipped at the next start and the rest is kept', async () => {
    const path = join(tempDir(), 'credentials.txt');
    writeFileSync(path, 'hans falcon*solo\nhalfwritt');
    await new CredentialsAppender(path).append('luke', 'light==saber');
    const { accounts, problems } = await loadCredentials(path);
    expect([...accounts.keys()]).toEqual(['hans', 'luke']);
    expect(problems).toHaveLength(1);
  });
});

describe('withFileLock (SEC-4)', () => {
  test('one holder at a time; a lock left by a process that is gone, or with our own pid, is taken over', async () => {
    const path = `${tempDir()}/credentials.txt`;
    const order: string[] = [];
    let release!: () => void;
    const first = withFileLock(path, async () => {
      order.push('first in');
      await new Promise<void>((r) => (release = r));
      order.push('first out');
    });
    while (order.length === 0) await Bun.sleep(1);
    const second = withFileLock(path, async () => void order.push('second'));
    await Bun.sleep(30);
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second']);
    expect(existsSync(`${path}.lock`)).toBe(false);
    for (const stale of ['999999999', String(process.pid)]) {
      writeFileSync(`${path}.lock`, stale);
      expect(await withFileLock(path, async () => 'taken', 1000)).toBe('taken');
    }
  });
});

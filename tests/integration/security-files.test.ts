// SEC-7 and the credentials-file details of issue 10 item 12: files created owner-only, a BOM,
// a missing file said out loud, world-readable files warned about.

import { describe, expect, test } from 'bun:test';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.ts';
import { ServerProcess } from '../helpers/server-process.ts';
import { SAMPLE_CREDENTIALS, tempDir, useServer } from '../helpers/test-server.ts';

const { start, track } = useServer();
const mode = (path: string) => statSync(path).mode & 0o777;

describe('SEC-7 files the server creates are readable by their owner only', () => {
  test('a new database (and its WAL) and a credentials file made by the first registration are 0600, whatever the umask', async () => {
    const dir = tempDir();
    const old = process.umask(0o022);
    const log: string[] = [];
    try {
      const { port, dbPath, credentialsPath } = await start({ dir, log: (l) => log.push(l) });
      const c = track(await RawClient.connect(port));
      await c.request('login padme');
      expect((await c.request('password queen-of-naboo')).code).toBe('welcome');
      expect(mode(credentialsPath)).toBe(0o600);
      expect(mode(dbPath)).toBe(0o600);
      expect(mode(`${dbPath}-wal`)).toBe(0o600);
    } finally {
      process.umask(old);
    }
    // The missing file was said out loud, in one line.
    expect(log.filter((l) => l.includes('does not exist'))).toEqual([expect.stringContaining(`WARNING: credentials file ${join(dir, 'credentials.txt')} does not exist: starting with 0 accounts`)]);
  });

  test('an existing file that others can read is warned about at start-up', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    chmodSync(join(dir, 'credentials.txt'), 0o644);
    const log: string[] = [];
    await start({ dir, log: (l) => log.push(l) });
    expect(log.some((l) => l.includes('can be read by others (mode 644); chmod 600 it'))).toBe(true);
  });
});

describe('AUTH-1 a byte-order mark at the start of the credentials file', () => {
  test('does not hide the first account', async () => {
    const { port } = await start({ credentials: `\ufeff${SAMPLE_CREDENTIALS}`, register: false });
    const c = track(await RawClient.connect(port));
    await c.login('hans', 'falcon*solo');
  });
});

describe('chat serve --credentials with a file that is not there (issue 11)', () => {
  test('says so in one loud line on stderr, and still starts', async () => {
    const server = await ServerProcess.start(['--credentials', join(tempDir(), 'nonexistent.txt'), '--db', ':memory:']);
    // The log's listening line comes after the signal handlers are in place.
    for (let waited = 0; !server.stderr.includes('listening on') && waited < 5000; waited += 5) await Bun.sleep(5);
    server.signal('SIGTERM');
    const { code, stderr } = await server.stopped();
    expect(code).toBe(0);
    const lines = stderr.split('\n').filter((l) => l.includes('nonexistent.txt'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('WARNING: credentials file');
    expect(lines[0]).toContain('does not exist: starting with 0 accounts');
  });
});

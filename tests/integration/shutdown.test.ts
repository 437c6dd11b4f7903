// The real server process is told to stop (SIGTERM, SIGINT) with users logged in (issue 7):
// every client hears `bye shutdown` and is closed, the real client says the server went away and
// exits 1 (CLI-6), the server exits 0, what a client had not acknowledged is on disk (OFF-1) and
// delivered at the next login after a restart (OFF-2), and the database is consistent.

import { Database } from 'bun:sqlite';
import { afterEach, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LiveClient } from '../helpers/cli.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { ServerProcess } from '../helpers/server-process.ts';
import { SAMPLE_CREDENTIALS, tempDir } from '../helpers/test-server.ts';

const servers: ServerProcess[] = [];
const clients: RawClient[] = [];
const lives: LiveClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  for (const l of lives.splice(0)) l.kill();
  for (const s of servers.splice(0)) {
    s.signal('SIGKILL');
    await s.stopped();
  }
});

function files(): { credentials: string; db: string } {
  const dir = tempDir();
  const credentials = join(dir, 'credentials.txt');
  writeFileSync(credentials, SAMPLE_CREDENTIALS);
  return { credentials, db: join(dir, 'chat.db') };
}

async function serve(f: { credentials: string; db: string }): Promise<ServerProcess> {
  const server = await ServerProcess.start(['--credentials', f.credentials, '--db', f.db]);
  servers.push(server);
  return server;
}

async function user(port: number, name: string): Promise<RawClient> {
  const c = await as(port, name);
  clients.push(c);
  return c;
}

function inspect(db: string): { integrity: string; stored: { recipient: string; sender: string; body: string }[] } {
  const database = new Database(db, { readonly: true });
  try {
    const integrity = (database.query('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const stored = database.query('SELECT recipient, sender, body FROM messages ORDER BY id').all() as { recipient: string; sender: string; body: string }[];
    return { integrity, stored };
  } finally {
    database.close();
  }
}

describe('the server stopped by a signal', () => {
  test.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: every client told and closed, the real client exits 1, the server exits 0, nothing unacknowledged is lost',
    async (signal) => {
      const f = files();
      const server = await serve(f);
      const hans = await user(server.port, 'hans');
      const yoda = await user(server.port, 'yoda');
      yoda.autoAck = false;
      const idle = await RawClient.connect(server.port);
      clients.push(idle);
      const leia = new LiveClient(server.port);
      lives.push(leia);
      await leia.logIn('leia', '$blasterpistol$');
      await hans.presence('leia', true);

      // yoda receives a message and does not acknowledge it; luke is offline (stored at once).
      hans.send(`#1 message yoda in flight at ${signal}`);
      expect(await yoda.event('message', { from: 'hans', body: `in flight at ${signal}` })).toBeTruthy();
      expect((await hans.request(`message luke stored before ${signal}`)).code).toBe('stored');

      server.signal(signal);

      for (const c of [hans, yoda]) {
        expect(await c.event('bye', { code: 'shutdown' })).toMatchObject({ text: expect.stringContaining('shutting down') });
        await c.waitClosed();
        // Nothing after the bye.
        expect(c.lines.at(-1)).toMatchObject({ type: 'bye', code: 'shutdown' });
      }
      await idle.waitClosed();
      // The real client says why and exits 1 (CLI-6: the server closed the connection).
      expect(await leia.exited).toBe(1);
      await leia.waitFor('Disconnected: The server is shutting down\n');
      expect(leia.stdout.endsWith('Disconnected: The server is shutting down\n')).toBe(true);
      const { code, stderr } = await server.stopped();
      expect(code).toBe(0);
      expect(stderr).toContain(`${signal}: shutting down`);
      expect(stderr).toContain('logout yoda (shutdown)');

      // On disk: the message yoda had not acknowledged, and luke's; the file is consistent.
      const after = inspect(f.db);
      expect(after.integrity).toBe('ok');
      expect(after.stored).toEqual([
        { recipient: 'yoda', sender: 'hans', body: `in flight at ${signal}` },
        { recipient: 'luke', sender: 'hans', body: `stored before ${signal}` },
      ]);

      // After a restart on the same files, each gets it at the next login (OFF-2).
      const again = await serve(f);
      const yoda2 = await user(again.port, 'yoda');
      expect(await yoda2.event('message', { offline: true })).toMatchObject({ from: 'hans', body: `in flight at ${signal}` });
      const luke = await user(again.port, 'luke');
      expect(await luke.event('message', { offline: true })).toMatchObject({ from: 'hans', body: `stored before ${signal}` });
      await yoda2.request('whoelse');
      await luke.request('whoelse');
      again.signal(signal);
      for (const c of [yoda2, luke]) await c.event('bye', { code: 'shutdown' });
      expect((await again.stopped()).code).toBe(0);
      // Acknowledged at that login, so gone; still consistent.
      expect(inspect(f.db)).toEqual({ integrity: 'ok', stored: [] });
    },
    15_000,
  );
});

// Signals and job control through `bun run` (the README's way) and a real shell (issue 11):
// Ctrl-C on `bun run chat serve` shuts the server down gracefully, and Ctrl-Z / fg on
// `bun run chat connect` gives the shell back and then the client, keys working at once.

import { afterEach, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAT, STATE_DIR } from '../helpers/cli.ts';
import { KEY, PtyClient } from '../helpers/pty-client.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { ServerProcess } from '../helpers/server-process.ts';
import { SAMPLE_CREDENTIALS, startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { trackKillables } from '../helpers/cleanup.ts';

const ROOT = join(import.meta.dir, '../..');
let server: TestServer | undefined;
const track = trackKillables();
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('Ctrl-C on `bun run chat serve`', () => {
  test('is a graceful shutdown: clients told why, a shutdown line in the log, exit 0', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    const serve = track(new PtyClient(0, {
      // setsid --ctty: the terminal becomes the controlling terminal, so Ctrl-C makes a SIGINT.
      argv: ['setsid', '--ctty', process.execPath, 'run', 'chat', 'serve', '0', '60', '300', '--host', '127.0.0.1', '--credentials', join(dir, 'credentials.txt'), '--db', ':memory:'],
      cwd: ROOT,
    }));
    await serve.waitFor(/chat server listening on 127\.0\.0\.1:\d+/, 8000);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(serve.text())?.[1]);
    const hans: RawClient = track(await as(port, 'hans'));
    // The terminal sends SIGINT to the whole foreground group: bun run and the server, which
    // bun run forwards it to as well.
    serve.type(KEY.ctrlC);
    expect(await hans.event('bye', { code: 'shutdown' })).toMatchObject({ text: 'The server is shutting down' });
    expect(await serve.exited).toBe(0);
    await serve.waitFor('SIGINT: shutting down');
  }, 15_000);
});

describe('SIGINT twice (what Ctrl-C under bun run delivers: the terminal\'s and the forwarded one)', () => {
  test('still one graceful shutdown: clients told why, the shutdown logged, exit 0', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    const serve = await ServerProcess.start(['--credentials', join(dir, 'credentials.txt'), '--db', ':memory:']);
    try {
      const hans = track(await as(serve.port, 'hans'));
      serve.signal('SIGINT');
      serve.signal('SIGINT');
      expect(await hans.event('bye', { code: 'shutdown' })).toMatchObject({ text: 'The server is shutting down' });
      const { code, stderr } = await serve.stopped();
      expect(code).toBe(0);
      expect(stderr).toContain('SIGINT: shutting down');
    } finally {
      serve.signal('SIGKILL');
    }
  });
});

describe('Ctrl-Z and fg in a shell', () => {
  test.each([
    ['bun run chat connect', `${process.execPath} run chat connect`],
    ['the executable itself', CHAT.join(' ') + ' connect'],
  ])('%s: the shell gets its prompt back; after fg the keys work at once', async (_name, command) => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const shell = track(new PtyClient(0, {
      // A shell with job control: it must own the terminal (setsid --ctty).
      argv: ['setsid', '--ctty', 'bash', '--norc', '--noprofile', '-i'],
      cwd: ROOT,
      env: { PS1: 'shell$ ', CHAT_STATE_DIR: STATE_DIR },
      rows: 40,
    }));
    await shell.waitFor('shell$ ');
    shell.type(`${command} ${server.port}${KEY.enter}`);
    await shell.login('hans', 'falcon*solo');
    shell.type('\x1a'); // Ctrl-Z
    await shell.waitFor(/Stopped/, 8000);
    await shell.waitFor(() => shell.cursorRow() === 'shell$');
    shell.type(`fg${KEY.enter}`);
    shell.type(`whoelse${KEY.enter}`);
    // Nothing arrives in between: the keys alone must be read and acted on.
    await shell.waitFor('1 user online now: yoda', 8000);
    shell.type(`logout${KEY.enter}`);
    await shell.waitFor('Goodbye, hans');
    await yoda.presence('hans', false);
  }, 20_000);
});

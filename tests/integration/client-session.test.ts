// The real client, tried as a new user would (issue 11): an over-long line is refused by the
// client and the session goes on (CLI-7), passwords never reach the screen (AUTH-2), Ctrl-C clears
// a half-typed line, and the reasons for an ending are shown, once (CLI-6).

import { afterEach, describe, expect, test } from 'bun:test';
import { runCli, LiveClient } from '../helpers/cli.ts';
import { KEY, PtyClient } from '../helpers/pty-client.ts';
import { as } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { trackKillables } from '../helpers/cleanup.ts';

let server: TestServer | undefined;
const track = trackKillables();
afterEach(async () => {
  await server?.stop();
  server = undefined;
});
const pty = (port: number, options: ConstructorParameters<typeof PtyClient>[1] = {}) => track(new PtyClient(port, options));

describe('CLI-7 a line over a protocol limit', () => {
  test('message + 9,000 characters: refused by the client with a clear line; the session goes on', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type(`message yoda ${'x'.repeat(9000)}${KEY.enter}`);
    await hans.waitFor('not sent: the text has 9000 characters; a message may have at most 2000', 8000);
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    hans.type(`message yoda still here${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'still here' });
    expect(yoda.seen((l) => l.type === 'presence' && l.online === false)).toHaveLength(0);
  }, 15_000);

  test('any other line over 8192 bytes is refused before it is sent', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type(`block ${'y'.repeat(8300)}${KEY.enter}`);
    await hans.waitFor(/the line is \d+ bytes; the server takes at most 8192\. Nothing was sent/, 8000);
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('Nobody else online now');
  }, 15_000);
});

describe('CLI-7 with --json', () => {
  test('a message refused by the client still gives the script an error line with a code', async () => {
    server = await startTestServer();
    const { stdout } = await runCli(['connect', String(server.port), '--json'], { stdin: `hans\nfalcon*solo\nmessage yoda ${'x'.repeat(2001)}\n` });
    const errors = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.type === 'error');
    expect(errors).toEqual([expect.objectContaining({ code: 'text-too-long' })]);
  });
});

describe('AUTH-2 passwords never on screen', () => {
  test('a username and password typed ahead in one go: the password is not shown', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.waitFor('Username: ');
    hans.type(`hans${KEY.enter}falcon*solo${KEY.enter}`);
    await hans.waitFor('Welcome, hans!');
    expect(hans.raw).not.toContain('falcon');
  });

  test('--json on a terminal: the password is not echoed', async () => {
    server = await startTestServer();
    const hans = pty(server.port, { args: ['--json'] });
    // With --json there is no prompt: wait until the terminal is in raw mode for the password.
    hans.type(`hans${KEY.enter}`);
    await hans.waitFor('"code":"password"');
    hans.type(`falcon*solo${KEY.enter}`);
    await hans.waitFor('"code":"welcome"');
    expect(hans.raw).not.toContain('falcon');
  });

  test('the password typed at the > prompt is not sent, and taken off the screen', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type(`falcon*solo${KEY.enter}`);
    await hans.waitFor('That looked like your password');
    expect(hans.text()).not.toContain('falcon');
    expect(hans.text()).not.toContain('Unknown command');
    hans.type(KEY.up);
    await hans.waitFor(() => hans.cursorRow() === '>');
  });
});

describe('Ctrl-C at the prompt', () => {
  test('clears a half-typed line; a second Ctrl-C on the empty line leaves', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type('message yoda half a tho');
    await hans.waitFor(() => hans.cursorRow() === '> message yoda half a tho');
    hans.type(KEY.ctrlC);
    await hans.waitFor(() => hans.cursorRow() === '>');
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    hans.type(KEY.ctrlC);
    expect(await hans.exited).toBe(0);
    await yoda.presence('hans', false);
    expect(yoda.seen((l) => l.type === 'message')).toHaveLength(0);
  });
});

describe('CLI-6 reasons are shown, once', () => {
  test('the login deadline: its reason is shown and the client exits 1', async () => {
    server = await startTestServer({ config: { loginTimeoutMs: 300 } });
    const hans = pty(server.port);
    await hans.waitFor('Username: ');
    expect(await hans.exited).toBe(1);
    await hans.waitFor('No login within 0.3 s');
  });

  test('an inactivity logout is said once, and the client exits 4', async () => {
    server = await startTestServer({ timeoutSeconds: 1 });
    const hans = track(new LiveClient(server.port));
    await hans.logIn('hans', 'falcon*solo');
    expect(await hans.exited).toBe(4);
    expect(hans.stdout.match(/Logged out after 1 s without activity/g)).toHaveLength(1);
  });

  test('Ctrl-D: the goodbye is on a row of its own, not after the prompt', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type(KEY.ctrlD);
    expect(await hans.exited).toBe(0);
    await hans.waitFor('Goodbye, hans');
    expect(hans.lines().some((l) => /^\d\d:\d\d Goodbye, hans$/.test(l))).toBe(true);
    expect(hans.lines().some((l) => l.startsWith('> ') && l.includes('Goodbye'))).toBe(false);
  });

  test('a missing --ca file is a bad command line, not a network error', async () => {
    const { code, stderr } = await runCli(['connect', '5000', '--tls', '--ca', '/nonexistent/ca.pem']);
    expect(code).toBe(2);
    expect(stderr).toContain('--ca /nonexistent/ca.pem: no such file');
    expect(stderr).not.toContain('cannot reach');
  });

  test('a busy --p2p-port costs the private chats, not the session', async () => {
    server = await startTestServer();
    const busy = Bun.listen({ hostname: '0.0.0.0', port: 0, socket: { data() {} } });
    try {
      const hans = track(new LiveClient(server.port, ['--p2p-port', String(busy.port)]));
      await hans.logIn('hans', 'falcon*solo');
      await hans.waitFor(`Private chats are off: port ${busy.port} is in use`);
      hans.write('whoelse');
      await hans.waitFor('Nobody else online now');
      hans.endInput();
      expect(await hans.exited).toBe(0);
    } finally {
      busy.stop(true);
    }
  });
});

describe('smaller things (issue 11, item 7)', () => {
  test('--help does not say --no-register is on by default', async () => {
    const { stdout } = await runCli(['serve', '--help']);
    expect(stdout).toContain('--no-register');
    expect(stdout).not.toMatch(/--no-register.*default: true/);
  });

  test('PRES-3 whoelsesince with a huge number of seconds means since the server started', async () => {
    server = await startTestServer();
    const { stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\nwhoelsesince 99999999999999999999\n' });
    expect(stdout).toContain('Nobody else online in the last 99999999999999999999 s');
    expect(stdout).not.toContain('whole number');
  });
});

// Talking as people expect (issue 11): your own messages with their fate (CLI-8), /-commands and
// their other names, conversations (query) and reply, attention (bell, unread count, your name),
// a warning before an inactivity logout, registration that asks before creating an account,
// and what scripts and operators get (--bail, --log-format json).

import { afterEach, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { KEY, PtyClient } from '../helpers/pty-client.ts';
import { as } from '../helpers/raw-client.ts';
import { ServerProcess } from '../helpers/server-process.ts';
import { SAMPLE_CREDENTIALS, startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { trackKillables } from '../helpers/cleanup.ts';

let server: TestServer | undefined;
const track = trackKillables();
afterEach(async () => {
  await server?.stop();
  server = undefined;
});
const pty = (port: number, options: ConstructorParameters<typeof PtyClient>[1] = {}) => track(new PtyClient(port, { rows: 40, ...options }));

describe('CLI-8 your own messages, each with its fate', () => {
  test('delivered, stored for later, refused; broadcasts say how many they reached', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const vader = track(await as(server.port, 'vader'));
    await vader.request('block hans');
    const hans = pty(server.port, { env: { NO_COLOR: '1' } });
    await hans.login('hans', 'falcon*solo');
    hans.type(`message yoda Hello there${KEY.enter}`);
    await hans.waitFor(/\d\d:\d\d hans → yoda: Hello there {2}✓ delivered/);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'Hello there' });
    hans.type(`message leia See you later${KEY.enter}`);
    await hans.waitFor('hans → leia: See you later  ✓ stored until leia logs in');
    hans.type(`message vader Truce?${KEY.enter}`);
    await hans.waitFor(/hans → vader: Truce\? {2}✗ not sent: .*vader/);
    hans.type(`message nobody x${KEY.enter}`);
    await hans.waitFor('hans → nobody: x  ✗ not sent: There is no user called nobody');
    hans.type(`broadcast Anyone there?${KEY.enter}`);
    await hans.waitFor('hans → everyone: Anyone there?  ✓ reached 1 user; some did not get it');
  });

  test('from a pipe too, as plain lines', async () => {
    server = await startTestServer();
    track(await as(server.port, 'yoda'));
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\nmessage yoda from a script\nmessage leia later\n' });
    expect(code).toBe(0);
    expect(stdout).toContain('hans → yoda: from a script  ✓ delivered');
    expect(stdout).toContain('hans → leia: later  ✓ stored');
  });
});

describe('CLI-3 commands as people type them', () => {
  test('/msg, msg, /help, /query (plain lines go to the peer), reply, and quit', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const hans = pty(server.port, { env: { NO_COLOR: '1' } });
    await hans.login('hans', 'falcon*solo');
    hans.type(`/msg yoda one${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'one' });
    hans.type(`msg yoda two${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'two' });
    hans.type(`/help${KEY.enter}`);
    await hans.waitFor('query [<user>]');
    hans.type(`/query yoda${KEY.enter}`);
    await hans.waitFor('Talking to yoda');
    // The prompt says where plain lines go.
    await hans.waitFor(() => hans.cursorRow() === 'yoda>');
    hans.type(`whoelse is a plain line here${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'whoelse is a plain line here' });
    hans.type(`/whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    hans.type(`/query${KEY.enter}`);
    await hans.waitFor('Conversation ended');
    await yoda.request('message hans are you there?');
    await hans.waitFor('yoda: are you there?');
    hans.type(`reply I am${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'I am' });
    hans.type(`talk yoda${KEY.enter}`);
    await hans.waitFor('Talking to yoda');
    hans.type(`/quit${KEY.enter}`);
    expect(await hans.exited).toBe(0);
    await yoda.presence('hans', false);
  });

  test('exit leaves too', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    hans.type(`exit${KEY.enter}`);
    expect(await hans.exited).toBe(0);
  });
});

describe('attention', () => {
  test('a direct message rings the bell and counts in the title; your name is highlighted', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    await yoda.request('message hans psst');
    await hans.waitFor('yoda: psst');
    expect(hans.raw).toContain('\x07');
    expect(hans.raw).toContain('\x1b]2;(1) chat\x07');
    await yoda.request('broadcast hey hans, look');
    await hans.waitFor('look');
    expect(hans.raw).toContain('\x1b]2;(2) chat\x07');
    expect(hans.raw).toMatch(/\x1b\[7mhans\x1b\[27m/);
    // Typing a line means you have read them.
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    expect(hans.raw).toContain('\x1b]2;chat\x07');
  });

  test('--no-bell: no bell', async () => {
    server = await startTestServer();
    const yoda = track(await as(server.port, 'yoda'));
    const hans = pty(server.port, { args: ['--no-bell'] });
    await hans.login('hans', 'falcon*solo');
    await yoda.request('message hans quietly');
    await hans.waitFor('yoda: quietly');
    expect(hans.raw.replace(/\x1b\][^\x07]*\x07/g, '')).not.toContain('\x07');
  });

  test('SESS-1 a warning shortly before the inactivity logout', async () => {
    server = await startTestServer({ timeoutSeconds: 5 });
    const hans = pty(server.port);
    await hans.login('hans', 'falcon*solo');
    await hans.waitFor('You will be logged out for inactivity in 1 s unless you type a command', 8000);
    expect(await hans.exited).toBe(4);
  }, 12_000);
});

describe('registering', () => {
  test('a new name is confirmed first; too short is refused; the new password is typed twice', async () => {
    server = await startTestServer();
    const hans = pty(server.port);
    await hans.waitFor('Username: ');
    hans.type(`hnas${KEY.enter}`);
    await hans.waitFor('There is no account called hnas. Create it? (y/N)');
    hans.type(`n${KEY.enter}`);
    await hans.waitFor('No account created');
    await hans.waitFor(() => hans.cursorRow() === 'Username:');
    // A name too short for a new account is refused by the server (SEC-3) before any question.
    hans.type(`x${KEY.enter}`);
    await hans.waitFor('That username cannot be registered: a username needs at least 2 characters');
    await hans.waitFor(() => hans.cursorRow() === 'Username:');
    hans.type(`newbie${KEY.enter}`);
    await hans.waitFor('There is no account called newbie');
    hans.type(`y${KEY.enter}`);
    await hans.waitFor('New password: ');
    hans.type(`short${KEY.enter}`);
    await hans.waitFor('A new password needs at least 8 characters');
    hans.type(`long*enough${KEY.enter}`);
    await hans.waitFor('The same password again: ');
    hans.type(`long*enuogh${KEY.enter}`);
    await hans.waitFor('The two passwords differ; type it again');
    hans.type(`long*enough${KEY.enter}`);
    await hans.waitFor(() => hans.text().split('The same password again: ').length === 3);
    hans.type(`long*enough${KEY.enter}`);
    await hans.waitFor('Welcome, newbie!');
    expect(hans.raw).not.toContain('enough');
    expect(hans.raw).not.toContain('short');
    expect(readFileSync(server.credentialsPath, 'utf8')).toContain('newbie ');
    expect(readFileSync(server.credentialsPath, 'utf8')).not.toContain('hnas');
  });

  test('from a pipe: a new password that is too short is refused before it is sent (exit 3)', async () => {
    server = await startTestServer();
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'newbie\nshort\n' });
    expect(code).toBe(3);
    expect(stdout).toContain('A new password needs at least 8 characters');
    expect(readFileSync(server.credentialsPath, 'utf8')).not.toContain('newbie');
  });
});

describe('for scripts and operators', () => {
  test('--bail: a pipe stops at the first command that fails, exit status 5', async () => {
    server = await startTestServer();
    const { code, stdout } = await runCli(['connect', String(server.port), '--bail'], { stdin: 'hans\nfalcon*solo\nmessage nobody hi\nwhoelse\n' });
    expect(code).toBe(5);
    expect(stdout).toContain('There is no user called nobody');
    expect(stdout).not.toContain('Nobody else online');
  });

  test('--log-format json: one JSON object a line, with a time and the message', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    const serve = await ServerProcess.start(['--credentials', join(dir, 'credentials.txt'), '--db', ':memory:', '--log-format', 'json']);
    const hans = track(await as(serve.port, 'hans'));
    await hans.request('logout');
    serve.signal('SIGTERM');
    const { code, stderr } = await serve.stopped();
    expect(code).toBe(0);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as { time: string; message: string });
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(Object.keys(l)).toEqual(['time', 'message']);
    expect(lines.map((l) => l.message)).toContain('SIGTERM: shutting down');
    expect(lines.some((l) => l.message.startsWith('listening on 127.0.0.1:'))).toBe(true);
    expect(lines.some((l) => l.message.startsWith('login hans'))).toBe(true);
  });
});

// The real `chat` executable, driven through its command line and piped stdin.

import { afterEach, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { as, RawClient } from '../helpers/raw-client.ts';
import { LiveClient, runCli } from '../helpers/cli.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import pkg from '../../package.json' with { type: 'json' };

let server: TestServer | undefined;
const raws: RawClient[] = [];
const lives: LiveClient[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.kill();
  for (const c of lives.splice(0)) c.kill();
  await server?.stop();
  server = undefined;
});

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at |Error:|\.ts:\d+/);

describe('Command line', () => {
  test('--version prints the version from package.json', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout).toStartWith(`chat ${pkg.version}`);
  });

  test('--help lists both commands', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('serve <port> <block_duration> <timeout>');
    expect(stdout).toContain('connect <port>');
  });

  test.each([
    [['serve'], 'missing'],
    [['serve', '5000', '60'], 'missing'],
    [['serve', '5000', 'x', '300'], '<block_duration>'],
    [['serve', '5000', '60', '0'], '<timeout>'],
    [['serve', '99999', '60', '300'], '<port>'],
    [['serve', '5000', '60', '300', '--bogus'], '--bogus'],
    [['serve', '5000', '60', '300', '--web', 'abc'], '--web'],
    [['serve', '5000', '60', '300', '--web-host', '127.0.0.1'], '--web-host goes with --web'],
    [['serve', '5000', '60', '300', '--cluster', 'redis://127.0.0.1:1'], '--cluster and --store go together'],
    [['serve', '5000', '60', '300', '--store', 'postgres://127.0.0.1:1/chat'], '--cluster and --store go together'],
    [['serve', '5000', '60', '300', '--node', 'n1'], '--node goes with --cluster'],
    [['serve', '5000', '60', '300', '--cluster', 'http://x', '--store', 'postgres://127.0.0.1:1/chat'], '--cluster must be a redis:// URL'],
    [['connect'], 'missing'],
    [['connect', 'abc'], '<port>'],
    [['frobnicate'], 'unknown command'],
    [[], 'missing command'],
  ])('bad arguments %p: one clear line and the usage, exit code 2', async (args, words) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(words);
    expect(stderr).toContain('Usage:');
    expect(stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    noStackTrace(stderr);
  });

  test('a port in use: one clear line, non-zero exit', async () => {
    server = await startTestServer();
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), 'a b\n');
    const { code, stderr } = await runCli(['serve', String(server.port), '60', '300', '--host', '127.0.0.1', '--db', ':memory:'], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain('already in use');
    noStackTrace(stderr);
  });

  test('WEB-1 a web port in use: one clear line, non-zero exit', async () => {
    server = await startTestServer({ web: true });
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), 'a b\n');
    const { code, stderr } = await runCli(['serve', '0', '60', '300', '--host', '127.0.0.1', '--db', ':memory:', '--web', String(server.server.webPort)], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain(`web port ${server.server.webPort} is already in use`);
    noStackTrace(stderr);
  });

  test('an unreadable credentials file: one clear line, non-zero exit', async () => {
    const dir = tempDir();
    const { code, stderr } = await runCli(['serve', '0', '60', '300', '--credentials', dir, '--db', ':memory:'], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain('cannot read credentials file');
    noStackTrace(stderr);
  });

  test('serve prints one line when listening, with the address and port, and logs events with a timestamp', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), 'hans falcon*solo\n');
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, '../../src/cli.ts'), 'serve', '0', '60', '300', '--host', '127.0.0.1'], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
    const reader = proc.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(first);
    expect(match).not.toBeNull();
    const port = Number(match?.[1]);
    const hans = await as(port, 'hans');
    await hans.request('logout');
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const log = await new Response(proc.stderr).text();
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z listening/m);
    expect(log).toMatch(/Z login hans from 127\.0\.0\.1/);
    expect(log).toMatch(/Z logout hans \(logout\)/);
    // The default database was created in the working directory.
    expect(await Bun.file(join(dir, 'chat.db')).exists()).toBe(true);
  });
});

describe('CLI-4 piped stdin', () => {
  test('username, password, one command a line; prints plain lines; exit 0 after logout', async () => {
    server = await startTestServer();
    raws.push(await as(server.port, 'yoda'));
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\nwhoelse\nlogout\n' });
    expect(code).toBe(0);
    expect(stdout).toContain('Welcome, hans!');
    expect(stdout).toContain('1 user online now: yoda');
    expect(stdout).not.toMatch(/\x1b\[/);
    expect(stdout).not.toContain('falcon*solo');
  });

  test('at the end of input the client logs out and exits 0', async () => {
    server = await startTestServer();
    const yoda = await as(server.port, 'yoda');
    raws.push(yoda);
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\nmessage yoda from a pipe\n' });
    expect(code).toBe(0);
    expect(stdout).toContain('Goodbye, hans');
    expect(await yoda.event('message')).toMatchObject({ from: 'hans', body: 'from a pipe' });
    await yoda.presence('hans', false);
  });

  test('messages and events are printed as they arrive', async () => {
    server = await startTestServer();
    const yoda = await as(server.port, 'yoda');
    raws.push(yoda);
    const hans = new LiveClient(server.port);
    lives.push(hans);
    await hans.logIn('hans', 'falcon*solo');
    await yoda.presence('hans', true);
    await yoda.request('message hans hello from yoda 🙂');
    await hans.waitFor('yoda: hello from yoda 🙂');
    await yoda.request('broadcast to all');
    await hans.waitFor('yoda to everyone: to all');
    hans.endInput();
    expect(await hans.exited).toBe(0);
  });

  test('offline messages show when they were sent', async () => {
    server = await startTestServer();
    const yoda = await as(server.port, 'yoda');
    raws.push(yoda);
    await yoda.request('message hans while you slept');
    const { stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\n' });
    expect(stdout).toMatch(/yoda \(sent \d\d:\d\d while you were away\): while you slept/);
  });
});

describe('CLI-5 --json', () => {
  test('one JSON object a line, each with type and text; messages have from and body; lists have users; errors have a code', async () => {
    server = await startTestServer();
    const yoda = await as(server.port, 'yoda');
    raws.push(yoda);
    await yoda.request('message hans stored for later');
    const { code, stdout } = await runCli(['connect', String(server.port), '--json'], { stdin: 'hans\nfalcon*solo\nwhoelse\nmessage nobody hi\nfrobnicate\n' });
    expect(code).toBe(0);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of events) {
      expect(typeof e.type).toBe('string');
      expect(typeof e.text).toBe('string');
    }
    expect(events.find((e) => e.type === 'message')).toMatchObject({ from: 'yoda', body: 'stored for later', offline: true });
    expect(events.find((e) => Array.isArray(e.users))).toMatchObject({ users: ['yoda'] });
    const errors = events.filter((e) => e.type === 'error');
    expect(errors.map((e) => e.code)).toEqual(['no-such-user', 'unknown-command']);
    expect(events.at(-1)).toMatchObject({ type: 'exit', status: 0 });
  });
});

describe('CLI-6 exit codes', () => {
  test('server unreachable: one line, exit 1', async () => {
    const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const { code, stdout, stderr } = await runCli(['connect', String(port)], { stdin: 'hans\n' });
    expect(code).toBe(1);
    expect(stdout + stderr).toContain('cannot reach the server');
    noStackTrace(stdout + stderr);
  });

  test('wrong password from a pipe: exit 3 (no retry that would eat the commands)', async () => {
    server = await startTestServer();
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nwrong\nwhoelse\n' });
    expect(code).toBe(3);
    expect(stdout).toContain('Wrong password');
  });

  // Four client processes: the three wrong guesses at once (each takes its strike before its check,
  // SEC-1), and a budget past bun's 5 s default, which four start-ups can use up on a busy machine.
  test('account locked: exit 3 with the reason', async () => {
    const { port } = (server = await startTestServer());
    const guesses = await Promise.all([0, 1, 2].map(() => runCli(['connect', String(port)], { stdin: 'hans\nwrong\n' })));
    expect(guesses.map((g) => g.code)).toEqual([3, 3, 3]);
    const { code, stdout } = await runCli(['connect', String(port)], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(3);
    expect(stdout).toContain('blocked');
  }, 15_000);

  test('already logged in elsewhere: exit 3', async () => {
    server = await startTestServer();
    raws.push(await as(server.port, 'hans'));
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(3);
    expect(stdout).toContain('already logged in');
  });

  test('inactivity timeout: the reason on one line, exit 4', async () => {
    server = await startTestServer({ timeoutSeconds: 1 });
    const hans = new LiveClient(server.port);
    lives.push(hans);
    hans.write('hans');
    hans.write('falcon*solo');
    expect(await hans.exited).toBe(4);
    expect(hans.stdout).toContain('without activity');
  });

  test('the server goes away mid-session: the client says so and exits 1 at once', async () => {
    server = await startTestServer();
    const hans = new LiveClient(server.port);
    lives.push(hans);
    await hans.logIn('hans', 'falcon*solo');
    const stopped = Date.now();
    await server.stop();
    server = undefined;
    expect(await hans.exited).toBe(1);
    expect(Date.now() - stopped).toBeLessThan(1000);
    expect(hans.stdout).toMatch(/shutting down|closed the connection/);
  });
});

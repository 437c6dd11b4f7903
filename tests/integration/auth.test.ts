import { afterEach, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { as, RawClient } from '../helpers/raw-client.ts';
import { FakeClock, startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
const clients: RawClient[] = [];
async function connect(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
});

describe('AUTH-1 accounts come from the credentials file', () => {
  test('every account in the file can log in; accounts are case-sensitive; malformed lines are reported and skipped', async () => {
    const logs: string[] = [];
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.txt'), 'alice pw-a\nbroken line here\n\nBob pw-b\n');
    const { startServer } = await import('../../src/server/server.ts');
    const running = await startServer({ port: 0, host: '127.0.0.1', blockDurationMs: 60_000, timeoutMs: 60_000, credentials: join(dir, 'credentials.txt'), db: ':memory:', register: false, log: (l) => logs.push(l) });
    server = { server: running, port: running.port, dir, credentialsPath: '', dbPath: '', stop: () => running.stop() };
    expect(logs.some((l) => l.includes('credentials.txt:2'))).toBe(true);
    const a = await connect();
    await a.login('alice', 'pw-a');
    const b = await connect();
    await b.login('Bob', 'pw-b');
    const c = await connect();
    expect((await c.request('login bob')).code).toBe('registration-closed');
    expect((await c.request('login broken')).code).toBe('registration-closed');
  });
});

describe('AUTH-2 username, then password', () => {
  test('login gives a password prompt; password logs in', async () => {
    server = await startTestServer();
    const c = await connect();
    expect(await c.request('login hans')).toMatchObject({ type: 'ok', code: 'password' });
    expect(await c.request('password falcon*solo')).toMatchObject({ type: 'ok', code: 'welcome', user: 'hans' });
  });

  test('password before login is refused', async () => {
    server = await startTestServer();
    const c = await connect();
    expect(await c.request('password falcon*solo')).toMatchObject({ type: 'error', code: 'no-username' });
  });
});

describe('AUTH-3 unknown usernames register', () => {
  test('the server says it is a new account, stores it hashed, and logs the user in', async () => {
    server = await startTestServer();
    const c = await connect();
    const first = await c.request('login newbie');
    expect(first).toMatchObject({ code: 'new-account' });
    expect(String(first.text)).toContain('new account');
    expect(await c.request('password s3cret!42')).toMatchObject({ code: 'welcome', user: 'newbie' });
    const file = readFileSync(server.credentialsPath, 'utf8');
    const line = file.split('\n').find((l) => l.startsWith('newbie '));
    expect(line).toMatch(/^newbie \$argon2id\$/);
    c.kill();
    await c.closed;
    // The new account works on the next login, with the same password only.
    const again = await connect();
    expect((await again.request('login newbie')).code).toBe('password');
    expect((await again.request('password wrong')).code).toBe('wrong-password');
    expect((await again.request('password s3cret!42')).code).toBe('welcome');
  });

  test('existing lines are kept as they were', async () => {
    server = await startTestServer();
    const before = readFileSync(server.credentialsPath, 'utf8');
    const c = await connect();
    await c.request('login padme');
    await c.request('password naboo-queen');
    expect(readFileSync(server.credentialsPath, 'utf8').startsWith(before)).toBe(true);
  });

  test('with --no-register an unknown username is refused and nothing is written', async () => {
    server = await startTestServer({ register: false });
    const before = readFileSync(server.credentialsPath, 'utf8');
    const c = await connect();
    expect(await c.request('login stranger')).toMatchObject({ type: 'error', code: 'registration-closed' });
    expect(readFileSync(server.credentialsPath, 'utf8')).toBe(before);
    // The connection stays usable.
    await c.login('hans', 'falcon*solo');
  });

  test('the account survives a server restart', async () => {
    server = await startTestServer();
    const c = await connect();
    await c.request('login rey');
    await c.request('password jakku-desert');
    await server.stop();
    server = await startTestServer({ dir: server.dir });
    const d = await connect();
    await d.login('rey', 'jakku-desert');
  });
});

describe('AUTH-4 three wrong passwords lock the username', () => {
  test('the third failure locks for block_duration, across connections; the connection is told and closed; then it works again', async () => {
    const clock = new FakeClock();
    server = await startTestServer({ clock, blockSeconds: 10 });
    const first = await connect();
    await first.request('login hans');
    expect(await first.request('password nope1')).toMatchObject({ code: 'wrong-password' });
    expect(await first.request('password nope2')).toMatchObject({ code: 'wrong-password' });
    // The third attempt comes from another connection: the count is per username.
    const second = await connect();
    await second.request('login hans');
    const locked = await second.request('password nope3');
    expect(locked).toMatchObject({ type: 'error', code: 'locked' });
    expect(String(locked.text)).toContain('blocked for 10 s');
    await second.waitClosed();
    // During the block even the right password is refused, with a message that says so.
    const third = await connect();
    const refused = await third.request('login hans');
    expect(refused).toMatchObject({ type: 'error', code: 'locked' });
    expect(String(refused.text)).toContain('blocked');
    await third.waitClosed();
    // Other usernames are not affected.
    const yoda = await connect();
    await yoda.login('yoda', 'wise@!man');
    clock.advance(9_000);
    const early = await connect();
    expect((await early.request('login hans')).code).toBe('locked');
    clock.advance(1_000);
    const after = await connect();
    await after.login('hans', 'falcon*solo');
  });

  test('a successful login resets the count', async () => {
    server = await startTestServer();
    const c = await connect();
    await c.request('login hans');
    await c.request('password no1');
    await c.request('password no2');
    expect((await c.request('password falcon*solo')).code).toBe('welcome');
    c.kill();
    await c.closed;
    const d = await connect();
    await d.request('login hans');
    expect((await d.request('password no1')).code).toBe('wrong-password');
    expect((await d.request('password no2')).code).toBe('wrong-password');
    expect((await d.request('password falcon*solo')).code).toBe('welcome');
  });
});

describe('AUTH-5 one session per username', () => {
  test('a second login is refused even with the right password, and does not count as a failure', async () => {
    server = await startTestServer();
    const first = await connect();
    await first.login('hans', 'falcon*solo');
    const second = await connect();
    for (let i = 0; i < 4; i++) {
      await second.request('login hans');
      expect(await second.request('password falcon*solo')).toMatchObject({ type: 'error', code: 'already-online' });
    }
    expect(second.isClosed).toBe(false);
    // The refusals did not lock hans: after the first session ends, hans logs in.
    first.kill();
    await first.closed;
    await second.login('hans', 'falcon*solo');
    expect((await second.request('whoelse')).type).toBe('ok');
  });
});

describe('AUTH-6 welcome, then offline messages, then presence', () => {
  test('in that order', async () => {
    server = await startTestServer();
    const hans = await as(server.port, 'hans');
    clients.push(hans);
    expect((await hans.request('message yoda stored one')).code).toBe('stored');
    expect((await hans.request('message yoda stored two')).code).toBe('stored');
    const yoda = await connect();
    await yoda.request('login yoda');
    const welcome = await yoda.request('password wise@!man');
    expect(welcome.code).toBe('welcome');
    const index = yoda.lines.indexOf(welcome);
    expect(yoda.lines.slice(index + 1, index + 3).map((l) => l.body)).toEqual(['stored one', 'stored two']);
    const presence = await hans.presence('yoda', true);
    expect(presence).toBeTruthy();
  });
});

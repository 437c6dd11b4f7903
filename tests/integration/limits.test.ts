// Hostile clients meet limits (issue 7): connection caps, the login deadline, the command rate
// limit. Each limit answers with one clear line, and normal users are not disturbed.

import { afterEach, describe, expect, test } from 'bun:test';
import { LiveClient, runCli } from '../helpers/cli.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { FakeClock, startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
});

async function withLimits(limits: { maxConnections?: number; maxPerAddress?: number; loginTimeoutMs?: number; rateLimit?: number }, clock?: FakeClock) {
  server = await startTestServer({ clock, config: limits });
}

async function raw(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

describe('connection caps', () => {
  test('past the per-address cap a connection is refused with one line, not left hanging', async () => {
    await withLimits({ maxPerAddress: 3 });
    const held = [await raw(), await raw(), await raw()];
    const refused = await raw();
    expect(await refused.event('error', { code: 'too-many-connections' })).toMatchObject({ text: expect.stringContaining('Too many connections from 127.0.0.1') });
    await refused.waitClosed();
    // The held connections still work, and closing one makes room.
    await held[0]?.login('hans', 'falcon*solo');
    held[1]?.kill();
    await held[1]?.closed;
    await held[0]?.request('whoelse');
    const next = await raw();
    await next.login('yoda', 'wise@!man');
  });

  test('past the total cap: refused with a line saying the server is full', async () => {
    await withLimits({ maxConnections: 2, maxPerAddress: 0 });
    await raw();
    await raw();
    const refused = await raw();
    expect(await refused.event('error', { code: 'too-many-connections' })).toMatchObject({ text: expect.stringContaining('full') });
    await refused.waitClosed();
  });
});

describe('login deadline (slowloris)', () => {
  test('a connection that does not log in in time is told and closed; a logged-in one is not', async () => {
    const clock = new FakeClock();
    await withLimits({ loginTimeoutMs: 10_000 }, clock);
    const slow = await raw();
    slow.write('login ha');
    const half = await raw();
    await half.request('login hans');
    const quick = await raw();
    await quick.login('yoda', 'wise@!man');
    clock.advance(10_000);
    for (const c of [slow, half]) {
      expect(await c.event('bye', { code: 'login-timeout' })).toBeTruthy();
      await c.waitClosed();
    }
    expect((await quick.request('whoelse')).type).toBe('ok');
    expect(server.server.state.connections).toBe(1);
  });
});

describe('command rate limit', () => {
  test('past the burst: a clear error with when to retry; a flood is disconnected; others unaffected', async () => {
    await withLimits({ rateLimit: 10 });
    const flooder = await as(server.port, 'hans');
    const bystander = await as(server.port, 'yoda');
    clients.push(flooder, bystander);
    // The burst is 5 s worth: 50 commands (2 were spent logging in).
    flooder.write(Array.from({ length: 48 }, (_, i) => `#ok${i} whoelse\n`).join(''));
    await flooder.waitFor((l) => l.re === 'ok47');
    expect(flooder.seen((l) => l.code === 'rate-limited')).toEqual([]);
    const limited = await flooder.request('whoelse');
    expect(limited).toMatchObject({ type: 'error', code: 'rate-limited' });
    expect(String(limited.text)).toContain('at most 10 a second');
    expect(limited.retryAfterMs as number).toBeGreaterThan(0);
    flooder.write('whoelse\n'.repeat(200));
    await flooder.waitClosed();
    expect((await bystander.request('whoelse')).type).toBe('ok');
  });

  test('the welcome says what the budget is', async () => {
    await withLimits({ rateLimit: 7 });
    const c = await raw();
    await c.request('login hans');
    expect(await c.request('password falcon*solo')).toMatchObject({ rateLimit: { rate: 7, burst: 35 } });
  });

  test('acks cost a tenth of a command: a busy recipient is never limited for acknowledging', async () => {
    await withLimits({ rateLimit: 2 });
    const c = await as(server.port, 'hans');
    clients.push(c);
    // Burst 10, 2 spent logging in: 60 acks cost 6, leaving room for one command.
    c.write('ack 0\n'.repeat(60));
    const reply = await c.request('whoelse');
    expect(reply.type).toBe('ok');
  });

  test('the real client paces itself: a piped script of many commands is never refused', async () => {
    await withLimits({ rateLimit: 10 });
    const commands = Array.from({ length: 65 }, () => 'whoelse').join('\n');
    const { code, stdout } = await runCli(['connect', String(server.port)], { stdin: `hans\nfalcon*solo\n${commands}\n`, timeoutMs: 10_000 });
    expect(code).toBe(0);
    expect(stdout).not.toContain('Too many commands');
    expect(stdout.match(/Nobody else online now/g)).toHaveLength(65);
  });

  test('a person pasting a block of lines at the default limit is not refused', async () => {
    await withLimits({ rateLimit: 20 });
    const bystander = await as(server.port, 'yoda');
    clients.push(bystander);
    const hans = new LiveClient(server.port);
    await hans.logIn('hans', 'falcon*solo');
    for (let i = 0; i < 40; i++) hans.write(`message yoda pasted line ${i}`);
    for (let i = 0; i < 40; i++) await bystander.event('message', { body: `pasted line ${i}` });
    hans.endInput();
    expect(await hans.exited).toBe(0);
    expect(hans.stdout).not.toContain('Too many commands');
  });
});

import { describe, expect, test } from 'bun:test';
import { as, RawClient } from '../helpers/raw-client.ts';
import { FakeClock, type TestServer, useServer } from '../helpers/test-server.ts';

let server: TestServer;
const { start, user } = useServer();
/** Whether the server has `name` online now (timers run synchronously inside clock.advance). */
const online = (name: string) => server.server.state.sessions.has(name);

describe('SESS-1 inactivity timeout', () => {
  test('a user idle for timeout seconds is told why and disconnected; others are told they left', async () => {
    const clock = new FakeClock();
    server = await start({ clock, timeoutSeconds: 30 });
    const hans = await user('hans');
    clock.advance(20_000);
    const yoda = await user('yoda');
    clock.advance(9_999);
    expect(online('hans')).toBe(true);
    clock.advance(1);
    expect(online('hans')).toBe(false);
    const bye = await hans.event('bye');
    expect(bye.code).toBe('timeout');
    expect(String(bye.text)).toContain('30 s');
    await hans.waitClosed();
    await yoda.presence('hans', false);
    expect(yoda.isClosed).toBe(false);
  });

  test('every command counts as activity, failed ones too; receiving messages does not', async () => {
    const clock = new FakeClock();
    server = await start({ clock, timeoutSeconds: 30 });
    const hans = await user('hans');
    const yoda = await user('yoda');
    for (const command of ['whoelse', 'message nobody hi', 'frobnicate', 'block hans', 'whoelsesince x']) {
      clock.advance(25_000);
      await hans.request(command);
      // yoda keeps receiving messages but types nothing.
      await yoda.request('message hans still here');
    }
    expect(online('hans')).toBe(true);
    clock.advance(25_000);
    expect(online('hans')).toBe(true);
    clock.advance(5_000);
    expect(online('hans')).toBe(false);
    expect((await hans.event('bye')).code).toBe('timeout');
  });

  test('acks and the p2p port, which the client sends by itself, are not activity', async () => {
    const clock = new FakeClock();
    server = await start({ clock, timeoutSeconds: 30 });
    const hans = await user('hans');
    const yoda = await user('yoda');
    clock.advance(20_000);
    await yoda.request('message hans hello');
    const msg = await hans.event('message');
    hans.send(`ack ${msg.id}`);
    await hans.request('p2pport 4000');
    clock.advance(9_999);
    expect(online('hans')).toBe(true);
    clock.advance(1);
    expect((await hans.event('bye')).code).toBe('timeout');
  });

  test('with the real clock and a 1 s timeout the user is logged out', async () => {
    server = await start({ timeoutSeconds: 1 });
    const hans = await user('hans');
    const started = Date.now();
    expect((await hans.event('bye')).code).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});

describe('SESS-3 logout', () => {
  test('confirms, closes the connection, and others see the logout', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const reply = await hans.request('logout');
    expect(reply).toMatchObject({ type: 'ok', code: 'bye' });
    await hans.waitClosed();
    await yoda.presence('hans', false);
    expect((await yoda.request('whoelse')).users).toEqual([]);
  });
});

describe('SESS-4 a vanished client is a logout', () => {
  test('killing the connection logs the user out; they can log in again at once', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    hans.kill();
    await yoda.presence('hans', false);
    expect((await yoda.request('whoelse')).users).toEqual([]);
    await user('hans');
    await yoda.presence('hans', true);
  });
});

describe('SESS-5 unknown commands and bad arguments', () => {
  test('an unknown command lists the valid commands; bad arguments show the usage', async () => {
    server = await start();
    const hans = await user('hans');
    const unknown = await hans.request('shout hi');
    expect(unknown).toMatchObject({ type: 'error', code: 'unknown-command' });
    expect(String(unknown.text)).toContain('message, broadcast, whoelse');
    const usage = await hans.request('block');
    expect(usage).toMatchObject({ type: 'error', code: 'usage' });
    expect(String(usage.text)).toContain('Usage: block <user>');
    expect(String((await hans.request('whoelsesince soon')).text)).toContain('whole number');
    expect(hans.isClosed).toBe(false);
  });

  test('help lists the commands with their arguments', async () => {
    server = await start();
    const hans = await user('hans');
    const help = await hans.request('help');
    expect(String(help.text)).toContain('message <user> <text>');
    expect(String(help.text)).toContain('whoelsesince <seconds>');
  });
});

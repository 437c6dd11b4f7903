// Private chats, server side (P2P-1, P2P-2, P2P-4, P2P-5, P2P-6): consent, tokens, errors.

import { afterEach, describe, expect, test } from 'bun:test';
import { as, RawClient } from '../helpers/raw-client.ts';
import { FakeClock, startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
const clients: RawClient[] = [];
/** Logs in and reports a p2p port, as the real client does right after login. */
async function user(name: string, port = 40000 + clients.length): Promise<RawClient> {
  const c = await as(server.port, name);
  clients.push(c);
  expect(await c.request(`p2pport ${port}`)).toMatchObject({ code: 'p2pport', port });
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
});

/** hans asks yoda, yoda accepts; returns what each side was given. */
async function openChat(hans: RawClient, yoda: RawClient) {
  expect((await hans.request('startprivate yoda')).code).toBe('requested');
  await yoda.event('private-request', { user: 'hans' });
  const accepted = await yoda.request('accept hans');
  const given = await hans.event('private-accepted', { user: 'yoda' });
  return { accepted, given };
}

describe('P2P-1 each client reports its private-chat port', () => {
  test('a user whose client reported no port cannot be asked', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await as(server.port, 'yoda');
    clients.push(yoda);
    expect(await hans.request('startprivate yoda')).toMatchObject({ type: 'error', code: 'peer-unavailable' });
  });

  test('the port must be a valid port number', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    for (const bad of ['0', '65536', 'x', '']) expect((await hans.request(`p2pport ${bad}`)).code).toBe('usage');
  });
});

describe('P2P-2 startprivate: consent, then address and a one-time token', () => {
  test('accepted: the requester gets the peer’s address, port and token; the peer the same token', async () => {
    server = await startTestServer();
    const hans = await user('hans', 41000);
    const yoda = await user('yoda', 42000);
    const { accepted, given } = await openChat(hans, yoda);
    expect(accepted).toMatchObject({ type: 'ok', code: 'accepted', user: 'hans' });
    expect(given).toMatchObject({ host: '127.0.0.1', port: 42000 });
    expect(given.token).toMatch(/^[0-9a-f]{32}$/);
    expect(accepted.token).toBe(given.token as string);
  });

  test('tokens are random and never repeat', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { given } = await openChat(hans, yoda);
      tokens.add(given.token as string);
      await hans.request('stopprivate yoda');
      await yoda.event('private-closed', { user: 'hans' });
    }
    expect(tokens.size).toBe(5);
  });

  test('the requester learns nothing about the peer’s address before consent', async () => {
    server = await startTestServer();
    const hans = await user('hans', 41000);
    const yoda = await user('yoda', 42000);
    await hans.request('startprivate yoda');
    const request = await yoda.event('private-request');
    expect(request).toEqual({ type: 'private-request', user: 'hans' });
    await hans.request('whoelse');
    expect(hans.received).not.toContain('42000');
    expect(yoda.received).not.toContain('41000');
  });

  test('declined: the requester is told', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    await hans.request('startprivate yoda');
    await yoda.event('private-request');
    expect((await yoda.request('decline hans')).code).toBe('declined');
    await hans.event('private-declined', { user: 'yoda' });
    expect((await yoda.request('accept hans')).code).toBe('no-request');
  });

  test('no answer within 60 s: both are told, and the request is gone', async () => {
    const clock = new FakeClock();
    server = await startTestServer({ clock });
    const hans = await user('hans');
    const yoda = await user('yoda');
    await hans.request('startprivate yoda');
    await yoda.event('private-request');
    clock.advance(59_999);
    expect(server.server.state.privateRequests.size).toBe(1);
    clock.advance(1);
    await hans.event('private-lapsed', { user: 'yoda', reason: 'no answer' });
    await yoda.event('private-lapsed', { user: 'hans' });
    expect((await yoda.request('accept hans')).code).toBe('no-request');
    // It can be asked again.
    expect((await hans.request('startprivate yoda')).code).toBe('requested');
  });

  test('errors: no such user, self, offline, blocked by the peer, already private, already asked', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const vader = await user('vader');
    await vader.request('block hans');
    const expectError = async (line: string, code: string) => expect(await hans.request(line)).toMatchObject({ type: 'error', code });
    await expectError('startprivate nobody', 'no-such-user');
    await expectError('startprivate hans', 'self');
    await expectError('startprivate leia', 'offline');
    await expectError('startprivate vader', 'blocked');
    await hans.request('startprivate yoda');
    await expectError('startprivate yoda', 'request-pending');
    expect((await yoda.request('startprivate hans')).code).toBe('request-pending');
    await yoda.request('accept hans');
    await expectError('startprivate yoda', 'already-private');
    await vader.request('whoelse');
    expect(vader.seen((l) => l.type === 'private-request')).toEqual([]);
  });

  test('blocking after the chat started does not close it (P2P-3)', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    await openChat(hans, yoda);
    await yoda.request('block hans');
    expect(await hans.request('startprivate yoda')).toMatchObject({ code: 'blocked' });
    expect((await hans.request('stopprivate yoda')).code).toBe('stopped');
  });
});

describe('P2P-4 stopprivate', () => {
  test.each([['hans'], ['yoda']])('from %s: the other side is told; a second stop is an error', async (who) => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    await openChat(hans, yoda);
    const [stopper, other, otherName, stopperName] = who === 'hans' ? [hans, yoda, 'yoda', 'hans'] : [yoda, hans, 'hans', 'yoda'];
    expect(await stopper.request(`stopprivate ${otherName}`)).toMatchObject({ code: 'stopped', user: otherName });
    await other.event('private-closed', { user: stopperName, reason: 'stopped' });
    expect((await stopper.request(`stopprivate ${otherName}`)).code).toBe('no-private');
    expect((await other.request(`stopprivate ${stopperName}`)).code).toBe('no-private');
  });

  test('without a private chat it is an error', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    expect(await hans.request('stopprivate yoda')).toMatchObject({ type: 'error', code: 'no-private' });
  });
});

describe('P2P-5 the end of a session closes its private chats', () => {
  test.each([['logout'], ['timeout'], ['disconnected']])('%s: every peer is told', async (how) => {
    const clock = new FakeClock();
    server = await startTestServer({ clock, timeoutSeconds: 30 });
    const hans = await user('hans');
    const yoda = await user('yoda');
    const leia = await user('leia');
    await openChat(hans, yoda);
    await hans.request('startprivate leia');
    await leia.event('private-request');
    await leia.request('accept hans');
    clock.advance(20_000);
    await yoda.request('whoelse');
    await leia.request('whoelse');
    if (how === 'logout') await hans.request('logout');
    if (how === 'timeout') clock.advance(10_000);
    if (how === 'disconnected') hans.kill();
    await yoda.event('private-closed', { user: 'hans', reason: how });
    await leia.event('private-closed', { user: 'hans', reason: how });
    expect((await yoda.request('stopprivate hans')).code).toBe('no-private');
  });

  test('a pending request is withdrawn when either side leaves', async () => {
    server = await startTestServer();
    const hans = await user('hans');
    const yoda = await user('yoda');
    await hans.request('startprivate yoda');
    await yoda.event('private-request');
    hans.kill();
    await yoda.event('private-lapsed', { user: 'hans', reason: 'disconnected' });
    expect(server.server.state.privateRequests.size).toBe(0);
  });
});

describe('P2P-6 private activity keeps a session alive', () => {
  test('`active` counts as activity and gets no reply', async () => {
    const clock = new FakeClock();
    server = await startTestServer({ clock, timeoutSeconds: 30 });
    const hans = await user('hans');
    for (let i = 0; i < 4; i++) {
      clock.advance(25_000);
      hans.send('active');
      await hans.request('p2pport 40001');
    }
    expect(server.server.state.sessions.has('hans')).toBe(true);
    expect(hans.seen((l) => l.type === 'ok' && l.re === undefined)).toEqual([]);
    clock.advance(30_000);
    expect(server.server.state.sessions.has('hans')).toBe(false);
  });
});

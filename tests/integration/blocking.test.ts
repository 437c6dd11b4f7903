import { describe, expect, test } from 'bun:test';
import { type TestServer, useServer } from '../helpers/test-server.ts';

let server: TestServer;
const { start, user } = useServer();

describe('BLK-1 block', () => {
  test('confirms; errors for no such user, self, already blocked; the blocked user is never told', async () => {
    server = await start();
    const yoda = await user('yoda');
    const hans = await user('hans');
    expect(await yoda.request('block hans')).toMatchObject({ type: 'ok', code: 'blocked', user: 'hans' });
    expect(await yoda.request('block nobody')).toMatchObject({ type: 'error', code: 'no-such-user' });
    expect(await yoda.request('block yoda')).toMatchObject({ type: 'error', code: 'self' });
    expect(await yoda.request('block hans')).toMatchObject({ type: 'error', code: 'already-blocked' });
    await hans.request('whoelse');
    expect(hans.received).not.toContain('block');
  });

  test('a user who is offline can be blocked', async () => {
    server = await start();
    const yoda = await user('yoda');
    expect((await yoda.request('block leia')).code).toBe('blocked');
  });
});

describe('BLK-2 what a block does', () => {
  test('messages refused, broadcasts skip, no presence, hidden from whoelse and whoelsesince', async () => {
    server = await start();
    const yoda = await user('yoda');
    await yoda.request('block hans');
    const hans = await user('hans');
    expect((await hans.request('message yoda hi')).code).toBe('blocked');
    expect((await hans.request('broadcast all')).code).toBe('partial');
    expect((await hans.request('whoelse')).users).toEqual([]);
    await yoda.request('logout');
    expect((await hans.request('whoelsesince 100')).users).toEqual([]);
    const again = await user('yoda');
    await hans.request('whoelse');
    expect(hans.seen((l) => l.type === 'presence' && (l.users as string[]).includes('yoda'))).toEqual([]);
    await again.request('whoelse');
    expect(again.seen((l) => l.type === 'broadcast')).toEqual([]);
    // The blocker can still message the blocked user.
    expect((await again.request('message hans from yoda')).code).toBe('delivered');
  });
});

describe('BLK-3 unblock', () => {
  test('confirms; errors for no such user, self, not blocked; messages flow again', async () => {
    server = await start();
    const yoda = await user('yoda');
    const hans = await user('hans');
    await yoda.request('block hans');
    expect(await yoda.request('unblock hans')).toMatchObject({ type: 'ok', code: 'unblocked' });
    expect(await yoda.request('unblock hans')).toMatchObject({ type: 'error', code: 'not-blocked' });
    expect(await yoda.request('unblock nobody')).toMatchObject({ type: 'error', code: 'no-such-user' });
    expect(await yoda.request('unblock yoda')).toMatchObject({ type: 'error', code: 'self' });
    expect((await hans.request('message yoda back again')).code).toBe('delivered');
  });
});

describe('BLK-2 a blocked user cannot tell whether the blocker is online (issue 10 item 13)', () => {
  test('startprivate and message to the blocker answer the same, online or not', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const vader = await user('vader');
    await vader.request('block hans');
    const online = [await hans.request('startprivate vader'), await hans.request('message vader hello')];
    vader.kill();
    // hans is not told (vader blocks him); yoda is.
    await yoda.presence('vader', false);
    const offline = [await hans.request('startprivate vader'), await hans.request('message vader hello')];
    const strip = (l: Record<string, unknown>) => ({ type: l.type, code: l.code, text: l.text });
    expect(offline.map(strip)).toEqual(online.map(strip));
    expect(online.map((l) => l.code)).toEqual(['blocked', 'blocked']);
  });
});

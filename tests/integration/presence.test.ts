import { describe, expect, test } from 'bun:test';
import { RawClient } from '../helpers/raw-client.ts';
import { FakeClock, type TestServer, useServer } from '../helpers/test-server.ts';

let server: TestServer;
const { start, user } = useServer();

/** Lines about `user`'s presence that `client` has received. */
const presenceOf = (client: RawClient, name: string) => client.seen((l) => l.type === 'presence' && (l.users as string[]).includes(name));

describe('PRES-1 login and logout are announced', () => {
  test('every other online user is told, for each way of leaving', async () => {
    const clock = new FakeClock();
    server = await start({ clock, timeoutSeconds: 60 });
    const yoda = await user('yoda');
    const leia = await user('leia');
    let hans = await user('hans');
    await yoda.presence('hans', true);
    await leia.presence('hans', true);
    expect(presenceOf(hans, 'hans')).toEqual([]);
    await hans.request('logout');
    await yoda.presence('hans', false);
    hans = await user('hans');
    hans.kill();
    await yoda.presence('hans', true);
    await yoda.presence('hans', false);
    hans = await user('hans');
    clock.advance(30_000);
    await yoda.request('whoelse');
    await leia.request('whoelse');
    clock.advance(30_000);
    await hans.waitClosed();
    await leia.presence('hans', false);
  });

  test('users whom the user has blocked are not told', async () => {
    server = await start();
    let hans = await user('hans');
    await hans.request('block vader');
    await hans.request('logout');
    const vader = await user('vader');
    const yoda = await user('yoda');
    hans = await user('hans');
    await yoda.presence('hans', true);
    await hans.request('logout');
    await yoda.presence('hans', false);
    // vader's reply comes after anything queued for it before.
    await vader.request('whoelse');
    expect(presenceOf(vader, 'hans')).toEqual([]);
    expect(presenceOf(hans, 'vader')).toEqual([]);
  });
});

describe('PRES-2 whoelse', () => {
  test('lists online users but the asker and those who block the asker', async () => {
    server = await start();
    const hans = await user('hans');
    await user('yoda');
    const leia = await user('leia');
    expect((await hans.request('whoelse')).users).toEqual(['leia', 'yoda']);
    await leia.request('block hans');
    expect((await hans.request('whoelse')).users).toEqual(['yoda']);
    // Blocking is one way: leia still sees hans.
    expect((await leia.request('whoelse')).users).toEqual(['hans', 'yoda']);
  });
});

describe('PRES-3 whoelsesince', () => {
  test('online now or logged out within the window; not the asker; not those who block the asker', async () => {
    const clock = new FakeClock();
    server = await start({ clock });
    const hans = await user('hans');
    const yoda = await user('yoda');
    await yoda.request('logout');
    clock.advance(10_000);
    const leia = await user('leia');
    await leia.request('logout');
    clock.advance(5_000);
    await user('luke');
    expect((await hans.request('whoelsesince 4')).users).toEqual(['luke']);
    expect((await hans.request('whoelsesince 5')).users).toEqual(['leia', 'luke']);
    expect((await hans.request('whoelsesince 15')).users).toEqual(['leia', 'luke', 'yoda']);
    expect((await hans.request('whoelsesince 0')).users).toEqual(['luke']);
    const vader = await user('vader');
    await vader.request('block hans');
    await vader.request('logout');
    expect((await hans.request('whoelsesince 15')).users).toEqual(['leia', 'luke', 'yoda']);
  });

  test('a window longer than the uptime means since the server started', async () => {
    const clock = new FakeClock();
    server = await start({ clock });
    const yoda = await user('yoda');
    await yoda.request('logout');
    clock.advance(1000);
    const hans = await user('hans');
    expect((await hans.request('whoelsesince 999999999')).users).toEqual(['yoda']);
  });

  test('the number must be a non-negative whole number', async () => {
    server = await start();
    const hans = await user('hans');
    for (const bad of ['-5', '2.5', 'abc', '']) {
      expect((await hans.request(`whoelsesince ${bad}`)).code).toBe('usage');
    }
  });
});

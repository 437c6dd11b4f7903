import { describe, expect, test } from 'bun:test';
import { type TestServer, useServer } from '../helpers/test-server.ts';

let server: TestServer;
const { start, user, killClients } = useServer();

describe('a restart on the same database file', () => {
  test('keeps offline messages (OFF-1) and block lists (BLK-4)', async () => {
    server = await start();
    const hans = await user('hans');
    expect((await hans.request('message leia before the restart')).code).toBe('stored');
    await hans.request('block vader');
    await server.stop();
    killClients();

    server = await start({ dir: server.dir });
    const leia = await user('leia');
    expect(await leia.event('message')).toMatchObject({ from: 'hans', body: 'before the restart', offline: true });
    const vader = await user('vader');
    await user('hans');
    expect((await vader.request('message hans still blocked?')).code).toBe('blocked');
  });

  test('message ids keep growing across restarts, so clients can drop duplicates by id', async () => {
    server = await start();
    const hans = await user('hans');
    const before = (await hans.request('message leia a')).id as number;
    await server.stop();
    killClients();
    server = await start({ dir: server.dir });
    const again = await user('hans');
    expect((await again.request('message leia b')).id as number).toBeGreaterThan(before);
  });

  test('a stop with sessions open stores what they had not acknowledged', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    yoda.autoAck = false;
    hans.send('message yoda in flight');
    await yoda.event('message');
    await server.stop();
    server = await start({ dir: server.dir });
    const again = await user('yoda');
    expect(await again.event('message')).toMatchObject({ body: 'in flight' });
  });
});

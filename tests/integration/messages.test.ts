import { describe, expect, test } from 'bun:test';
import { MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { type TestServer, useServer } from '../helpers/test-server.ts';

let server: TestServer;
const { start, user, track } = useServer();

describe('MSG-1 message <user> <text>', () => {
  test('an online recipient gets it at once with the sender’s name; spaces and Unicode kept', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const text = 'hello  there, 日本語 🙂 "quoted" \\ back\tslash';
    const reply = await hans.request(`message yoda ${text}`);
    expect(reply).toMatchObject({ type: 'ok', code: 'delivered', to: 'yoda' });
    const got = await yoda.event('message');
    expect(got).toMatchObject({ from: 'hans', body: text, id: reply.id });
    expect(got.offline).toBeUndefined();
    expect(typeof got.at).toBe('number');
  });

  test('the sender hears "delivered" only after the recipient acknowledged', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    yoda.autoAck = false;
    hans.send('#m message yoda are you there');
    const msg = await yoda.event('message');
    await hans.request('whoelse');
    expect(hans.seen((l) => l.re === 'm')).toEqual([]);
    yoda.send(`ack ${msg.id}`);
    expect(await hans.waitFor((l) => l.re === 'm')).toMatchObject({ code: 'delivered' });
  });
});

describe('MSG-2 message errors', () => {
  test('each has its own code and message', async () => {
    server = await start();
    const hans = await user('hans');
    const cases: [string, string, string][] = [
      ['message nobody hi', 'no-such-user', 'no user called nobody'],
      ['message hans hi', 'self', 'yourself'],
      ['message yoda', 'empty-text', 'empty'],
      ['message yoda    ', 'empty-text', 'empty'],
      [`message yoda ${'x'.repeat(MAX_TEXT_CHARS + 1)}`, 'text-too-long', String(MAX_TEXT_CHARS)],
    ];
    for (const [line, code, words] of cases) {
      const reply = await hans.request(line);
      expect(reply).toMatchObject({ type: 'error', code });
      expect(String(reply.text)).toContain(words);
    }
  });

  test('a recipient who blocked the sender: refused, told it cannot be delivered, nothing stored', async () => {
    server = await start();
    const yoda = await user('yoda');
    await yoda.request('block hans');
    await yoda.request('logout');
    const hans = await user('hans');
    const reply = await hans.request('message yoda please');
    expect(reply).toMatchObject({ type: 'error', code: 'blocked' });
    expect(String(reply.text)).toContain('cannot be delivered');
    expect(await server.server.state.store.countFor('yoda')).toBe(0);
  });
});

describe('OFF-1 messages to offline users are stored durably first', () => {
  test('the sender is told "stored" only once the message is in the database', async () => {
    server = await start();
    const hans = await user('hans');
    const reply = await hans.request('message leia meet at the base');
    expect(reply).toMatchObject({ type: 'ok', code: 'stored', to: 'leia' });
    expect(String(reply.text)).toContain('offline');
    expect((await server.server.state.store.messagesFor('leia')).map((m) => m.body)).toEqual(['meet at the base']);
  });

  test('a message to a user who vanishes before acknowledging is stored and comes at the next login', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    yoda.autoAck = false;
    hans.send('#m message yoda first try');
    await yoda.event('message', { body: 'first try' });
    yoda.kill();
    expect(await hans.waitFor((l) => l.re === 'm')).toMatchObject({ code: 'stored' });
    const again = await user('yoda');
    expect(await again.event('message')).toMatchObject({ body: 'first try', offline: true });
  });

  test('a message never acknowledged is stored after the ack timeout and the sender hears it is safe', async () => {
    server = await start({ ackTimeoutMs: 200 });
    const hans = await user('hans');
    const yoda = await user('yoda');
    yoda.autoAck = false;
    const reply = await hans.request('message yoda hello?');
    expect(reply.code).toBe('stored');
    expect(await server.server.state.store.countFor('yoda')).toBe(1);
    // A late ack still clears it.
    yoda.send(`ack ${reply.id}`);
    await yoda.request('whoelse');
    await hans.request('whoelse');
    expect(await server.server.state.store.countFor('yoda')).toBe(0);
  });
});

describe('OFF-2 stored messages at login', () => {
  test('all of them, oldest first, with sender and time; removed once acknowledged', async () => {
    server = await start();
    const hans = await user('hans');
    const luke = await user('luke');
    const before = Date.now();
    await hans.request('message leia one');
    await luke.request('message leia two');
    await hans.request('message leia three');
    const leia = await RawClient.connect(server.port);
    track(leia);
    leia.autoAck = false;
    await leia.login('leia', '$blasterpistol$');
    const got = [await leia.event('message'), await leia.event('message'), await leia.event('message')];
    expect(got.map((m) => [m.from, m.body, m.offline])).toEqual([
      ['hans', 'one', true],
      ['luke', 'two', true],
      ['hans', 'three', true],
    ]);
    for (const m of got) expect(m.at as number).toBeGreaterThanOrEqual(before - 1000);
    expect(await server.server.state.store.countFor('leia')).toBe(3);
    leia.send(`ack ${got[1]?.id}`);
    await leia.request('whoelse');
    await hans.request('whoelse');
    expect((await server.server.state.store.messagesFor('leia')).map((m) => m.body)).toEqual(['three']);
    leia.send(`ack ${got[2]?.id}`);
    await leia.request('logout');
    await hans.request('whoelse');
    expect(await server.server.state.store.countFor('leia')).toBe(0);
  });

  test('CLU-3 stored messages are written with fresh, growing ids and their key (the id the sender was told); an ack of the id removes that one', async () => {
    server = await start();
    const hans = await user('hans');
    const keys = [(await hans.request('message leia one')).id, (await hans.request('message leia two')).id];
    const login = async () => {
      const leia = await RawClient.connect(server.port);
      track(leia);
      leia.autoAck = false;
      await leia.login('leia', '$blasterpistol$');
      return leia;
    };
    const first = await login();
    const [one, two] = [await first.event('message'), await first.event('message')];
    expect([one?.key, two?.key]).toEqual(keys);
    expect(one?.id as number).toBeGreaterThan(keys[1] as number);
    expect(two?.id as number).toBeGreaterThan(one?.id as number);
    first.send(`ack ${one?.id}`);
    await first.request('whoelse');
    await hans.request('whoelse');
    expect((await server.server.state.store.messagesFor('leia')).map((m) => m.body)).toEqual(['two']);
    first.kill();
    await first.closed;
    // Sent again at the next login: the same key, an id above every id of the first connection.
    const second = await login();
    const again = await second.event('message');
    expect(again).toMatchObject({ body: 'two', key: keys[1], offline: true });
    expect(again.id as number).toBeGreaterThan(two?.id as number);
    second.send(`ack ${again.id}`);
    await second.request('whoelse');
    await hans.request('whoelse');
    expect(await server.server.state.store.countFor('leia')).toBe(0);
  });

  test('a login that never acknowledges gets the same messages again next time', async () => {
    server = await start();
    const hans = await user('hans');
    await hans.request('message leia keep me');
    for (let i = 0; i < 2; i++) {
      const leia = await RawClient.connect(server.port);
      leia.autoAck = false;
      await leia.login('leia', '$blasterpistol$');
      expect(await leia.event('message')).toMatchObject({ body: 'keep me' });
      leia.kill();
      await leia.closed;
      await hans.request('whoelse');
    }
  });
});

describe('BCAST-1 broadcast', () => {
  test('every online user but the sender gets it; nothing is stored', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const leia = await user('leia');
    const reply = await hans.request('broadcast hello all 🙂');
    expect(reply).toMatchObject({ type: 'ok', code: 'sent', reached: 2 });
    for (const c of [yoda, leia]) expect(await c.event('broadcast')).toMatchObject({ from: 'hans', body: 'hello all 🙂' });
    await hans.request('whoelse');
    expect(hans.seen((l) => l.type === 'broadcast')).toEqual([]);
    expect(await server.server.state.store.countFor('luke')).toBe(0);
  });

  test('users who blocked the sender are skipped and the sender is told, without names', async () => {
    server = await start();
    const hans = await user('hans');
    const yoda = await user('yoda');
    const vader = await user('vader');
    await vader.request('block hans');
    const reply = await hans.request('broadcast anyone?');
    expect(reply).toMatchObject({ type: 'ok', code: 'partial', reached: 1 });
    expect(String(reply.text)).toContain('did not reach some users');
    expect(String(reply.text)).not.toContain('vader');
    await yoda.event('broadcast');
    await vader.request('whoelse');
    expect(vader.seen((l) => l.type === 'broadcast')).toEqual([]);
  });

  test('empty broadcast is an error', async () => {
    server = await start();
    const hans = await user('hans');
    expect((await hans.request('broadcast  ')).code).toBe('empty-text');
  });
});

// SEC-1 and SEC-2 over real sockets: parallel guessing, password spraying, the password-check
// queue shared fairly between addresses.

import { describe, expect, test } from 'bun:test';
import { RawClient } from '../helpers/raw-client.ts';
import { FakeClock, useServer } from '../helpers/test-server.ts';

const { start, track } = useServer();

/** A cheap argon2id hash: the checks still run off the event loop, through the same queue. */
function quickHash(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: 1024, timeCost: 1 });
}

async function connect(port: number, from?: string): Promise<RawClient> {
  return track(await RawClient.connect(port, '127.0.0.1', { from }));
}

const NAMES = ['hans', 'yoda', 'vader', 'leia', 'luke'];

describe('SEC-1 parallel guesses (AUTH-4 under load)', () => {
  test('40 guesses at once on 40 connections: three are checked, one lockout, every other guess and the right password are refused', async () => {
    const log: string[] = [];
    const credentials = `hans ${await quickHash('falcon*solo')}\n`;
    const { port } = await start({ credentials, log: (l) => log.push(l) });
    const guessers = await Promise.all(Array.from({ length: 40 }, () => connect(port)));
    const owner = await connect(port);
    await Promise.all([...guessers, owner].map((c) => c.request('login hans')));
    // All guesses leave in one turn; the right password last.
    const replies = guessers.map((c, i) => c.request(`password guess${i}`));
    const right = owner.request('password falcon*solo');
    const codes = (await Promise.all(replies)).map((r) => String(r.code));
    expect(codes.filter((c) => c === 'wrong-password')).toHaveLength(2);
    expect(codes.filter((c) => c === 'locked')).toHaveLength(38);
    expect(await right).toMatchObject({ type: 'error', code: 'locked' });
    expect(log.filter((l) => l.startsWith('failed login for hans'))).toHaveLength(3);
    expect(log.filter((l) => l.startsWith('lockout hans'))).toHaveLength(1);
    expect(log.some((l) => l.includes('guess'))).toBe(false);
  });
});

describe('SEC-2 password spraying: failed logins per address ban it, for longer each time', () => {
  test('five wrong passwords across five names ban 127.0.0.2 (logged); other addresses are not affected; the second ban lasts twice as long', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const { port } = await start({ clock, log: (l) => log.push(l), config: { maxAuthFailures: 5, banMs: 60_000 } });
    const spray = async (names = NAMES): Promise<string[]> => {
      const codes: string[] = [];
      const c = await connect(port, '127.0.0.2');
      for (const name of names) {
        await c.request(`login ${name}`);
        const reply = await c.request(`password spray-${name}`);
        codes.push(String(reply.code));
        if (reply.code === 'banned') break;
      }
      return codes;
    };
    expect(await spray()).toEqual(['wrong-password', 'wrong-password', 'wrong-password', 'wrong-password', 'banned']);
    expect(log.filter((l) => l.startsWith('ban 127.0.0.2 for 60 s'))).toHaveLength(1);
    // The address is refused at once, even with a right password; another address is served.
    const again = await connect(port, '127.0.0.2');
    expect(await again.event('error', { code: 'banned' })).toMatchObject({ text: expect.stringContaining('try again in 60 s') });
    await again.waitClosed();
    const other = await connect(port, '127.0.0.3');
    await other.login('hans', 'falcon*solo');
    clock.advance(60_000);
    // Banned again: 120 s this time (hans is online now, so a guess for him would not count).
    expect(await spray(['yoda', 'vader', 'leia', 'luke', 'yoda'])).toEqual(['wrong-password', 'wrong-password', 'wrong-password', 'wrong-password', 'banned']);
    expect(log.some((l) => l.startsWith('ban 127.0.0.2 for 120 s'))).toBe(true);
    clock.advance(60_000);
    const early = await connect(port, '127.0.0.2');
    expect(await early.event('error', { code: 'banned' })).toBeTruthy();
    clock.advance(60_000);
    const later = await connect(port, '127.0.0.2');
    await later.login('yoda', 'wise@!man');
  });
});

describe('SEC-2 the password-check queue is shared fairly between addresses', () => {
  test('300 guesses from one address at once: it gets its share, the rest are refused busy, and a user from another address logs in', async () => {
    // A real-cost hash for the attacked names, so the guesses pile up in the queue.
    const slow = await Bun.password.hash('x', { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 });
    const lines = Array.from({ length: 300 }, (_, i) => `victim${i} ${slow}`);
    const credentials = [`hans ${await quickHash('falcon*solo')}`, ...lines].join('\n');
    const { port, server } = await start({ credentials, config: { maxPerAddress: 0, maxAuthFailures: 0, checksPerAddress: 8 } });
    const attackers = await Promise.all(Array.from({ length: 300 }, () => connect(port, '127.0.0.2')));
    await Promise.all(attackers.map((c, i) => c.request(`login victim${i}`)));
    const guesses = attackers.map((c) => c.request('password guess'));
    const hans = await connect(port, '127.0.0.3');
    await hans.request('login hans');
    // Sent while the attacker's checks are queued.
    while (server.state.hashing.load.running === 0) await Bun.sleep(1);
    expect((await hans.request('password falcon*solo')).code).toBe('welcome');
    const codes = (await Promise.all(guesses)).map((r) => String(r.code));
    expect(codes.filter((c) => c === 'wrong-password').length).toBeLessThanOrEqual(8 + 2);
    expect(codes.filter((c) => c === 'busy').length).toBeGreaterThanOrEqual(290);
  }, 20_000);
});

describe('SEC-2 registrations per address and in total', () => {
  async function register(port: number, from: string, name: string): Promise<string> {
    const c = await connect(port, from);
    const first = await c.request(`login ${name}`);
    if (first.type === 'error') return String(first.code);
    return String((await c.request('password long-enough-pw')).code);
  }

  test('three an hour from one address, five in total: then refused with registration-limit (logged); an hour later, room again', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const { port } = await start({ clock, log: (l) => log.push(l), config: { registrationsPerAddress: 3, registrationsTotal: 5 } });
    for (const name of ['anna', 'bert', 'carl']) expect(await register(port, '127.0.0.2', name)).toBe('welcome');
    expect(await register(port, '127.0.0.2', 'dora')).toBe('registration-limit');
    expect(log.some((l) => l.startsWith('refused a registration from 127.0.0.2'))).toBe(true);
    expect(await register(port, '127.0.0.3', 'emil')).toBe('welcome');
    expect(await register(port, '127.0.0.3', 'fritz')).toBe('welcome');
    // Five in total: a third address is refused too.
    expect(await register(port, '127.0.0.4', 'gert')).toBe('registration-limit');
    // Existing accounts still log in from anywhere.
    const hans = await connect(port, '127.0.0.2');
    await hans.login('hans', 'falcon*solo');
    clock.advance(3600_000);
    expect(await register(port, '127.0.0.2', 'dora')).toBe('welcome');
  });
});

describe('SEC-2 a reserve for users when strangers fill the server', () => {
  test('20 idle connections on a server of 20: the oldest strangers make room, and a user with an account logs in', async () => {
    const log: string[] = [];
    const { port, server } = await start({ log: (l) => log.push(l), config: { maxConnections: 20, maxPerAddress: 0, reservedConnections: 2 } });
    const strangers: RawClient[] = [];
    for (let i = 0; i < 20; i++) strangers.push(await connect(port, '127.0.0.2'));
    // Strangers hold at most 20 - 2; the two oldest were told why and closed.
    for (const c of strangers.slice(0, 2)) {
      expect(await c.event('bye', { code: 'evicted' })).toBeTruthy();
      await c.waitClosed();
    }
    expect(server.state.strangers.size).toBe(18);
    // One log line a minute for these, however many.
    expect(log.filter((l) => l.startsWith('closed the oldest connection not logged in'))).toHaveLength(1);
    const hans = await connect(port, '127.0.0.3');
    await hans.login('hans', 'falcon*solo');
    const yoda = await connect(port, '127.0.0.3');
    await yoda.login('yoda', 'wise@!man');
    expect(server.state.connections).toBeLessThanOrEqual(20);
  });
});

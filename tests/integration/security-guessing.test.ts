// SEC-1 and SEC-2 over real sockets: parallel guessing, password spraying, the password-check
// queue shared fairly between addresses.

import { describe, expect, test } from 'bun:test';
import { RawClient } from '../helpers/raw-client.ts';
import { useServer } from '../helpers/test-server.ts';

const { start, track } = useServer();

/** A cheap argon2id hash: the checks still run off the event loop, through the same queue. */
function quickHash(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: 1024, timeCost: 1 });
}

async function connect(port: number): Promise<RawClient> {
  return track(await RawClient.connect(port));
}

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

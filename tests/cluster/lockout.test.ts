import { describe, expect, test } from 'bun:test';
import { ClusterLockout, MAX_STRIKES } from '../../src/cluster/lockout.ts';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

/** One lockout per node, each on a link of its own. */
function nodes(count: number, blockMs = 60_000, checkMs?: number): ClusterLockout[] {
  return Array.from({ length: count }, () => new ClusterLockout(r.link(), r.keys, { blockMs, ...(checkMs !== undefined && { checkMs }) }));
}

describe.skipIf(skip)('ClusterLockout', () => {
  test('AUTH-4 / CLU-2: three wrong passwords on three different nodes lock the name on every node', async () => {
    r.fresh();
    const [a, b, c] = nodes(3) as [ClusterLockout, ClusterLockout, ClusterLockout];
    for (const [node, n] of [[a, 1], [b, 2]] as const) {
      expect(await node.begin('yoda')).toEqual({ go: true });
      expect(await node.fail('yoda')).toEqual({ locked: false, strikes: n });
    }
    expect(await c.begin('yoda')).toEqual({ go: true });
    expect(await c.fail('yoda')).toEqual({ locked: true, ms: 60_000 });
    for (const node of [a, b, c]) {
      const refused = await node.begin('yoda');
      expect(refused.go).toBe(false);
      if (!refused.go && refused.reason === 'locked') expect(refused.ms).toBeGreaterThan(59_000);
      else throw new Error(`expected locked, got ${JSON.stringify(refused)}`);
    }
    // Another name is not affected.
    expect(await a.begin('leia')).toEqual({ go: true });
  });

  test('AUTH-4: a right password forgets the strikes, wherever they were counted', async () => {
    r.fresh();
    const [a, b] = nodes(2) as [ClusterLockout, ClusterLockout];
    for (let i = 0; i < MAX_STRIKES - 1; i++) {
      await a.begin('yoda');
      await a.fail('yoda');
    }
    await b.begin('yoda');
    await b.succeed('yoda');
    await a.begin('yoda');
    expect(await a.fail('yoda')).toEqual({ locked: false, strikes: 1 });
  });

  test('AUTH-4: the lock ends after the block duration and the name can be tried again', async () => {
    r.fresh();
    const [a] = nodes(1, 200) as [ClusterLockout];
    for (let i = 0; i < MAX_STRIKES; i++) {
      await a.begin('yoda');
      await a.fail('yoda');
    }
    expect(await a.lockedFor('yoda')).toBeGreaterThan(0);
    await waitFor(async () => (await a.lockedFor('yoda')) === 0, 'the lock to end');
    expect(await a.begin('yoda')).toEqual({ go: true });
    expect(await a.fail('yoda')).toEqual({ locked: false, strikes: 1 });
  });

  test('SEC-1 / CLU-2: of 30 guesses arriving at once on three nodes, only three are checked', async () => {
    r.fresh();
    const all = nodes(3);
    const begun = await Promise.all(Array.from({ length: 30 }, (_, i) => (all[i % 3] as ClusterLockout).begin('yoda').then((b) => ({ b, node: all[i % 3] as ClusterLockout }))));
    const going = begun.filter(({ b }) => b.go);
    expect(going).toHaveLength(MAX_STRIKES);
    expect(begun.filter(({ b }) => !b.go && b.reason === 'busy')).toHaveLength(30 - MAX_STRIKES);
    const strikes = await Promise.all(going.map(({ node }) => node.fail('yoda')));
    expect(strikes.filter((s) => s.locked)).toHaveLength(1);
    expect((await (all[0] as ClusterLockout).begin('yoda')).go).toBe(false);
  });

  test('a check begun by a node that then died stops counting after checkMs', async () => {
    r.fresh();
    const [a] = nodes(1, 60_000, 100) as [ClusterLockout];
    for (let i = 0; i < MAX_STRIKES; i++) expect(await a.begin('yoda')).toEqual({ go: true });
    expect(await a.begin('yoda')).toEqual({ go: false, reason: 'busy' });
    await waitFor(async () => (await a.begin('yoda')).go, 'the abandoned checks to lapse');
  });

  test('a check that could not be made is abandoned: its place is free at once, and it is no strike', async () => {
    r.fresh();
    const [a, b] = nodes(2) as [ClusterLockout, ClusterLockout];
    for (let i = 0; i < MAX_STRIKES; i++) expect(await a.begin('yoda')).toEqual({ go: true });
    expect(await b.begin('yoda')).toEqual({ go: false, reason: 'busy' });
    await a.abandon('yoda');
    expect(await b.begin('yoda')).toEqual({ go: true });
    for (let i = 0; i < MAX_STRIKES; i++) await a.abandon('yoda');
    expect(await r.link().call('GET', [r.keys.checking('yoda')])).toBe('0');
    // No strike was counted: three wrong ones are still needed to lock.
    expect(await a.begin('yoda')).toEqual({ go: true });
    expect(await a.fail('yoda')).toEqual({ locked: false, strikes: 1 });
  });

  test('Redis down: the lockout call fails with RedisUnavailableError (the caller refuses the login with a clear line)', async () => {
    r.fresh();
    const [a] = nodes(1);
    await r.redis.kill();
    const error = await (a as ClusterLockout).begin('yoda').catch((e: unknown) => e);
    expect((error as Error).name).toBe('RedisUnavailableError');
  });
});

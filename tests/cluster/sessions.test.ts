import { describe, expect, test } from 'bun:test';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

describe.skipIf(skip)('SessionRegistry', () => {
  test('AUTH-5 / CLU-2: a user logged in on one node cannot log in on another; the login is one event', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    const n2 = await r.node('n2');
    await r.link().call('DEL', [r.keys.settling]);
    expect(await n1.sessions.claim('yoda')).toEqual({ ok: true, already: false });
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: false, reason: 'taken', owner: n1.lease.owner });
    expect(await n1.sessions.claim('yoda')).toEqual({ ok: true, already: true });
    expect(await n1.sessions.ownerOf('yoda')).toBe(n1.lease.owner);
    expect(await r.events()).toEqual([['login', 'yoda', n1.lease.owner]]);
  });

  test('release ends the session with a logout event; then any node may claim it; a node cannot release another’s', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    const n2 = await r.node('n2');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    expect(await n2.sessions.release('yoda')).toBe(false);
    expect(await n1.sessions.release('yoda')).toBe(true);
    expect(await n1.sessions.release('yoda')).toBe(false);
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: true, already: false });
    expect(await r.events()).toEqual([
      ['login', 'yoda', n1.lease.owner],
      ['logout', 'yoda', n1.lease.owner],
      ['login', 'yoda', n2.lease.owner],
    ]);
  });

  test('CLU-4: a release owed since Redis was unreachable appends the logout even if Redis lost the session meanwhile (restarted empty)', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    await r.link().call('DEL', [r.keys.session('yoda')]); // what a Redis restarted empty no longer has
    expect(await n1.sessions.release('yoda')).toBe(false);
    expect(await n1.sessions.release('yoda', { gone: true })).toBe(true);
    expect(await r.events()).toEqual([
      ['login', 'yoda', n1.lease.owner],
      ['logout', 'yoda', n1.lease.owner],
    ]);
    // Held by another node by now: not ours to end.
    await r.link().call('SET', [r.keys.session('yoda'), 'n2#other']);
    expect(await n1.sessions.release('yoda', { gone: true })).toBe(false);
  });

  test('CLU-3: a dead node’s user can log in elsewhere at once; its logout and the new login are appended in that order', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    const n2 = await r.node('n2');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    const dead = n1.lease.owner;
    await r.link().call('DEL', [r.keys.lease('n1')]); // n1 died: its lease is gone
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: true, already: false, from: dead });
    expect(await r.events()).toEqual([
      ['login', 'yoda', dead],
      ['logout', 'yoda', dead],
      ['login', 'yoda', n2.lease.owner],
    ]);
  });

  test('CLU-3: the janitor clears every session of a dead epoch once, with a logout each, and leaves live ones', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    const n2 = await r.node('n2', { refreshMs: 50 });
    await r.link().call('DEL', [r.keys.settling]);
    for (const u of ['hans', 'leia', 'luke']) await n1.sessions.claim(u);
    await n1.sessions.release('luke');
    await n2.sessions.claim('yoda');
    const dead = n1.lease.owner;
    // n1 stops refreshing; its lease expires on its own while n2 keeps refreshing.
    await n2.lease.start();
    await waitFor(async () => (await r.link().call('EXISTS', [r.keys.lease('n1')])) === 0, 'n1’s lease to expire');
    const reaped = await n2.sessions.reapDead();
    expect(reaped.toSorted((a, b) => (a.user < b.user ? -1 : 1))).toEqual([
      { owner: dead, user: 'hans' },
      { owner: dead, user: 'leia' },
    ]);
    expect(await n2.sessions.reapDead()).toEqual([]);
    expect(await n2.sessions.ownerOf('hans')).toBeUndefined();
    expect(await n2.sessions.ownerOf('yoda')).toBe(n2.lease.owner);
    expect((await r.events()).filter(([type]) => type === 'logout').map(([, user]) => user).toSorted()).toEqual(['hans', 'leia', 'luke']);
  });

  test('CLU-5: after fencing, sessions of the node’s old epoch are dead although the node is alive again', async () => {
    r.fresh();
    const n1 = await r.node('n1');
    const n2 = await r.node('n2', { refreshMs: 50 });
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    const old = n1.lease.owner;
    await n2.lease.start();
    await waitFor(async () => (await r.link().call('EXISTS', [r.keys.lease('n1')])) === 0, 'n1’s lease to expire');
    await n1.lease.tick(); // fenced, then a new epoch
    expect(n1.lease.owner).not.toBe(old);
    expect(n1.lease.status).toBe('held');
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: true, already: false, from: old });
  });

  test('after Redis restarted empty, newcomers wait while live nodes re-assert their sessions (no user online twice)', async () => {
    r.fresh();
    // Leases long enough that a loaded machine cannot let them lapse during the test.
    const n1 = await r.node('n1', { leaseMs: 3000 });
    const n2 = await r.node('n2', { leaseMs: 3000 });
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    await r.redis.kill();
    await r.redis.restart();
    await n2.lease.tick(); // n2 notices first: a new generation, settling for one lease
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: false, reason: 'settling' });
    await n1.lease.tick();
    expect(await n1.sessions.claim('yoda', { reassert: true })).toEqual({ ok: true, already: false });
    expect(await n2.sessions.claim('yoda')).toEqual({ ok: false, reason: 'taken', owner: n1.lease.owner });
    // Settling lasts one lease, then ends on its own (its PX); end it now rather than wait.
    const left = await r.link().call<number>('PTTL', [r.keys.settling]);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(3000);
    await r.link().call('DEL', [r.keys.settling]);
    expect(await n2.sessions.claim('leia')).toEqual({ ok: true, already: false });
  });
});

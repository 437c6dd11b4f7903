import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { Keys } from '../../src/cluster/keys.ts';
import { NodeLease, type LeaseOptions } from '../../src/cluster/lease.ts';
import { RedisLink } from '../../src/cluster/redis-link.ts';
import { ENGINE_START_MS, RedisEngine, redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';

const skip = skipUnless(import.meta.path, redisMissing());

describe.skipIf(skip)('NodeLease', () => {
  let redis: RedisEngine;
  let keys: Keys;
  let tests = 0;
  const links: RedisLink[] = [];
  const leases: NodeLease[] = [];
  const link = (): RedisLink => {
    const l = new RedisLink(redis.url, { timeoutMs: 300 });
    links.push(l);
    return l;
  };
  /** A lease driven by hand (tick), with a short PX so that expiry tests take a moment. */
  const lease = (node: string, options: LeaseOptions = {}): NodeLease => {
    const l = new NodeLease(link(), keys, node, { leaseMs: 300, ...options });
    leases.push(l);
    return l;
  };
  beforeAll(async () => {
    redis = await RedisEngine.start();
  }, ENGINE_START_MS);
  afterEach(async () => {
    for (const l of leases.splice(0)) l.stop();
    for (const l of links.splice(0)) l.close();
    redis.resume();
    if (!redis.running) await redis.restart();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  // Each test has keys of its own.
  const fresh = (): void => {
    keys = new Keys(`t${++tests}:`);
  };

  test('a node takes its lease, refreshes it, and may serve while it holds it', async () => {
    fresh();
    const l = lease('n1');
    expect(l.mayServe()).toBe(false);
    await l.tick();
    expect(l.status).toBe('held');
    expect(l.mayServe()).toBe(true);
    const raw = link();
    expect(await raw.call('GET', [keys.lease('n1')])).toBe(l.owner.split('#')[1] as string);
    expect(await raw.call('HEXISTS', [keys.owners, l.owner])).toBe(1);
    await raw.call('PEXPIRE', [keys.lease('n1'), 50]);
    await l.tick();
    expect(await raw.call<number>('PTTL', [keys.lease('n1')])).toBeGreaterThan(200);
  });

  test('a second process with the same node name waits until the first one’s lease is gone', async () => {
    fresh();
    const first = lease('n1', { leaseMs: 3000 });
    const second = lease('n1', { leaseMs: 3000 });
    const logs: string[] = [];
    const third = lease('n1', { leaseMs: 3000, onLog: (line) => logs.push(line) });
    await first.tick();
    await third.tick();
    expect(third.status).toBe('starting');
    expect(logs).toEqual(['the lease of n1 is held by another epoch; waiting for it to expire']);
    await first.release();
    await second.tick();
    expect(second.status).toBe('held');
    expect(second.owner).not.toBe(first.owner);
  });

  test('fencing (CLU-5): a node frozen past its lease stops serving, is told to close its sessions, then takes a new epoch', async () => {
    fresh();
    const lost: string[] = [];
    const l = lease('n1', { onLost: (why) => lost.push(why) });
    await l.tick();
    const before = l.owner;
    // Frozen: no refresh until Redis has let the lease expire.
    const raw = link();
    await waitFor(async () => (await raw.call('EXISTS', [keys.lease('n1')])) === 0, 'the lease to expire');
    expect(l.mayServe()).toBe(false);
    await l.tick();
    expect(lost).toEqual(['the lease of n1 expired']);
    expect(l.status).toBe('held');
    expect(l.owner).not.toBe(before);
    expect(l.mayServe()).toBe(true);
  });

  test('another process that took the node’s name meanwhile fences this one too', async () => {
    fresh();
    const lost: string[] = [];
    const l = lease('n1', { onLost: (why) => lost.push(why) });
    await l.tick();
    await link().call('SET', [keys.lease('n1'), 'someone-else', 'PX', 5000]);
    await l.tick();
    expect(lost).toEqual(['another process holds the lease of n1']);
    expect(l.status).toBe('lost');
    expect(l.mayServe()).toBe(false);
  });

  test('Redis restarted empty (CLU-4): the lease is re-asserted with the same owner, sessions are kept, nothing is fenced', async () => {
    fresh();
    const told: string[] = [];
    const l = lease('n1', { onLost: () => told.push('lost'), onReset: () => told.push('reset') });
    await l.tick();
    await l.tick();
    const owner = l.owner;
    await redis.kill();
    await l.tick(); // fails: Redis is down, the lease is kept
    expect(l.status).toBe('held');
    expect(l.mayServe()).toBe(true);
    await redis.restart();
    await l.tick();
    expect(told).toEqual(['reset']);
    expect(l.owner).toBe(owner);
    expect(await link().call('GET', [keys.lease('n1')])).toBe(owner.split('#')[1] as string);
    // Claims by newcomers wait a lease's time after a reset (see sessions.test.ts).
    expect(await link().call('EXISTS', [keys.settling])).toBe(1);
  });

  test('Redis down (CLU-4): the node carries on without fencing; cut off too long, it pauses (closing nothing) until Redis answers', async () => {
    fresh();
    const logs: string[] = [];
    const told: string[] = [];
    let now = 1_000_000;
    const l = lease('n1', { clock: () => now, onLost: () => told.push('lost'), onReset: () => told.push('reset'), onLog: (line) => logs.push(line) });
    await l.tick();
    await redis.kill();
    for (let i = 0; i < 3; i++) {
      now += 100;
      await l.tick();
    }
    expect(l.mayServe(now)).toBe(true);
    expect(logs).toHaveLength(3);
    expect(logs[0]).toStartWith('Redis is unavailable: ');
    expect(logs[0]).toEndWith('; keeping the lease of n1 until Redis answers');
    for (let i = 0; i < 10; i++) {
      now += 100;
      await l.tick();
    }
    expect(now - 1_000_000).toBeGreaterThanOrEqual(l.maxUnconfirmedMs);
    expect(l.mayServe(now)).toBe(false);
    expect(l.status).toBe('held');
    await redis.restart();
    now += 100;
    await l.tick();
    expect(told).toEqual(['reset']);
    expect(l.mayServe(now)).toBe(true);
  });

  test('CLU-5: a freeze while Redis is unreachable: nothing is served until Redis says whether the lease survived', async () => {
    fresh();
    const told: string[] = [];
    let now = 1_000_000;
    const l = lease('n1', { clock: () => now, onLost: () => told.push('lost'), onReset: () => told.push('reset') });
    await l.tick();
    await redis.kill();
    now += 1000; // frozen for more than the lease
    await l.tick();
    expect(l.mayServe(now)).toBe(false);
    expect(told).toEqual([]);
    await redis.restart();
    now += 100;
    await l.tick();
    expect(told).toEqual(['reset']);
    expect(l.mayServe(now)).toBe(true);
  });

  test('start() refreshes on its own every refreshMs', async () => {
    fresh();
    const l = lease('n1', { leaseMs: 200, refreshMs: 40 });
    await l.start();
    const raw = link();
    // Expiry would come within 200 ms without refreshes; see it refreshed several times over 600 ms.
    const seen = new Set<number>();
    const until = Date.now() + 600;
    await waitFor(async () => {
      seen.add(await raw.call<number>('PTTL', [keys.lease('n1')]));
      return Date.now() > until;
    }, 'time to pass');
    expect([...seen].every((ttl) => ttl > 0)).toBe(true);
    expect(l.mayServe()).toBe(true);
  });

  test('the refresh loop survives Redis going away and coming back empty: no rejection escapes, the lease is taken again', async () => {
    fresh();
    const logs: string[] = [];
    const told: string[] = [];
    const l = lease('n1', { leaseMs: 3000, refreshMs: 20, onLog: (line) => logs.push(line), onReset: () => told.push('reset'), onLost: () => told.push('lost') });
    await l.start();
    await redis.kill();
    await waitFor(() => logs.length >= 3, 'three failed refreshes');
    await redis.restart();
    await waitFor(() => told.length > 0, 'the lease to be re-asserted');
    expect(told).toEqual(['reset']);
    expect(await link().call('GET', [keys.lease('n1')])).toBe(l.owner.split('#')[1] as string);
    expect(l.mayServe()).toBe(true);
  });
});

// One redis-server per test file, fresh key prefixes per test, and nodes made of a lease and a
// session registry on links of their own, all closed after each test.

import { afterAll, afterEach, beforeAll } from 'bun:test';
import { Keys } from '../../src/cluster/keys.ts';
import { NodeLease, type LeaseOptions } from '../../src/cluster/lease.ts';
import { RedisLink } from '../../src/cluster/redis-link.ts';
import { SessionRegistry } from '../../src/cluster/sessions.ts';
import { ENGINE_START_MS, RedisEngine } from '../helpers/engines.ts';

export interface TestNode {
  readonly link: RedisLink;
  readonly lease: NodeLease;
  readonly sessions: SessionRegistry;
}

export function useRedis(skip: boolean) {
  let redis: RedisEngine | undefined;
  let keys = new Keys('t0:');
  let tests = 0;
  const links: RedisLink[] = [];
  const leases: NodeLease[] = [];
  beforeAll(async () => {
    if (!skip) redis = await RedisEngine.start();
  }, ENGINE_START_MS);
  afterEach(async () => {
    for (const l of leases.splice(0)) l.stop();
    for (const l of links.splice(0)) l.close();
    if (!redis) return;
    redis.resume();
    if (!redis.running) await redis.restart();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const fixture = {
    get redis(): RedisEngine {
      return redis as RedisEngine;
    },
    get keys(): Keys {
      return keys;
    },
    /** Keys of its own for the test that calls it. */
    fresh(): Keys {
      return (keys = new Keys(`t${++tests}:`));
    },
    link(timeoutMs = 300): RedisLink {
      const l = new RedisLink((redis as RedisEngine).url, { timeoutMs });
      links.push(l);
      return l;
    },
    /** A node whose lease is taken (one tick); its lease is driven by hand unless started. */
    async node(name: string, options: LeaseOptions = {}): Promise<TestNode> {
      const link = fixture.link();
      const lease = new NodeLease(link, keys, name, { leaseMs: 300, ...options });
      leases.push(lease);
      await lease.tick();
      return { link, lease, sessions: new SessionRegistry(link, keys, () => lease.owner) };
    },
    /** The events stream as [type, user, owner] triples, oldest first. */
    async events(): Promise<string[][]> {
      const entries = await fixture.link().call<[string, string[]][]>('XRANGE', [keys.events, '-', '+']);
      return entries.map(([, f]) => [f[1], f[3], f[5]] as string[]);
    },
  };
  return fixture;
}

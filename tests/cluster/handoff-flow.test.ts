// The building blocks together, on real engines: a sender's node hands messages to the owner's node
// through Redis, the owner shows and acknowledges some, then dies; PostgreSQL is down when the sender
// notices. The invariant of CLU-3/CLU-4: every message gets exactly one outcome, every message told
// `delivered` or `stored` reaches the recipient (now or from the store at the next login), and keyed
// by origin none is shown twice.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ClusterNode } from '../../src/cluster/cluster-node.ts';
import { Handoffs, type HandoffOutcome } from '../../src/cluster/handoffs.ts';
import type { OriginMessage } from '../../src/store/async-store.ts';
import { PostgresStore } from '../../src/store/postgres-store.ts';
import { ENGINE_START_MS, PostgresEngine, postgresMissing, redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing(), postgresMissing());
const r = useRedis(skip);
let pg: PostgresEngine | undefined;
beforeAll(async () => {
  if (!skip) pg = await PostgresEngine.start();
}, ENGINE_START_MS);
afterAll(async () => {
  await pg?.stop();
});

describe.skipIf(skip)('hand-off between nodes, on real engines', () => {
  test('CLU-3 / CLU-4: the owner node dies mid-stream while PostgreSQL is down; each message is delivered or stored exactly once', async () => {
    r.fresh();
    const engine = pg as PostgresEngine;
    const store = await PostgresStore.open(await engine.createDatabase());
    const outcomes = new Map<string, HandoffOutcome[]>();
    const shown = new Map<string, number>(); // origin -> times the recipient saw it
    const handoffs = new Handoffs(store, { ackMs: 60_000, retryMs: 50 });
    const dead: string[] = [];
    const sender = new ClusterNode({
      url: r.redis.url, node: 'n1', keys: r.keys, leaseMs: 600, refreshMs: 100, janitorMs: 100,
      onInbox: (e) => e.type === 'delivered' && handoffs.delivered(e.origins),
      onOwnersDead: (owners) => {
        dead.push(...owners);
        for (const o of owners) void handoffs.ownerDead(o, Date.now());
      },
    });
    let handled = 0;
    const owner: ClusterNode = new ClusterNode({
      url: r.redis.url, node: 'n2', keys: r.keys, leaseMs: 600, refreshMs: 100, janitorMs: 100,
      onInbox: (e) => {
        if (e.type !== 'deliver' || ++handled > 60) return; // the node dies before reading the rest
        shown.set(e.origin, (shown.get(e.origin) ?? 0) + 1);
        // The recipient acknowledges the first 50; the next 10 are shown but their ack is lost.
        if (handled <= 50) void owner.send('n1', { type: 'delivered', origins: [e.origin] }).catch(() => {});
      },
    });
    try {
      await sender.start();
      await owner.start();
      const to = owner.lease.owner;
      for (let i = 1; i <= 100; i++) {
        const msg: OriginMessage = { id: i, origin: `n1:${i}`, from: 'hans', to: 'yoda', at: Date.now(), body: `m${i}` };
        outcomes.set(msg.origin, []);
        sender.watch(to);
        handoffs.hand(msg, to, Date.now(), (o) => outcomes.get(msg.origin)?.push(o));
        await sender.send('n2', { type: 'deliver', origin: msg.origin, from: msg.from, to: msg.to, at: msg.at, body: msg.body, replyTo: 'n1' });
      }
      await waitFor(() => [...outcomes.values()].filter((o) => o.length > 0).length === 50, 'the 50 acknowledged');

      await engine.crash();
      await owner.abandon(); // SIGKILL-like: nothing given up
      await waitFor(() => dead.length > 0, 'n2’s death noticed');
      expect(dead).toEqual([to]);
      await handoffs.tick(Date.now()); // PostgreSQL is down: the store fails and waits
      expect(handoffs.size).toBe(50);
      expect([...outcomes.values()].filter((o) => o.length === 0)).toHaveLength(50); // nobody told `stored` yet
      await engine.restart();
      await waitFor(async () => {
        await handoffs.tick(Date.now());
        return handoffs.size === 0;
      }, 'the stores to be retried and committed', 15_000);

      const all = [...outcomes.values()];
      expect(all.every((o) => o.length === 1)).toBe(true);
      expect(all.filter((o) => o[0] === 'delivered')).toHaveLength(50);
      expect(all.filter((o) => o[0] === 'stored')).toHaveLength(50);

      // yoda's next login: the stored backlog, shown once each by origin key.
      const backlog = await store.messagesFor('yoda');
      expect(backlog).toHaveLength(50);
      for (const m of backlog) {
        const origin = `n1:${m.id}`;
        if (!shown.has(origin)) shown.set(origin, 1); // the 10 already shown are dropped by their key
      }
      expect(shown.size).toBe(100);
      expect([...shown.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await sender.abandon();
      await owner.abandon();
      await store.close();
    }
  }, ENGINE_START_MS);
});

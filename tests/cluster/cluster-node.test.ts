import { afterEach, describe, expect, test } from 'bun:test';
import { ClusterNode, type ClusterNodeOptions } from '../../src/cluster/cluster-node.ts';
import type { EventEntry, InboxEntry } from '../../src/cluster/node-messages.ts';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

interface Recorded {
  node: ClusterNode;
  inbox: InboxEntry[];
  events: EventEntry[];
  dead: string[];
  told: string[];
  logs: string[];
}

const running: ClusterNode[] = [];
afterEach(async () => {
  for (const n of running.splice(0)) await n.abandon();
});

async function start(name: string, options: Partial<ClusterNodeOptions> = {}): Promise<Recorded> {
  const rec: Recorded = { inbox: [], events: [], dead: [], told: [], logs: [] } as unknown as Recorded;
  rec.node = new ClusterNode({
    url: r.redis.url,
    node: name,
    keys: r.keys,
    leaseMs: 600,
    refreshMs: 100,
    janitorMs: 100,
    onInbox: (e) => rec.inbox.push(e),
    onEvent: (e) => rec.events.push(e),
    onOwnersDead: (owners) => rec.dead.push(...owners),
    onLost: () => rec.told.push('lost'),
    onReset: () => rec.told.push('reset'),
    log: (line) => rec.logs.push(line),
    ...options,
  });
  running.push(rec.node);
  await rec.node.start();
  return rec;
}

describe.skipIf(skip)('ClusterNode', () => {
  test('nodes see each other’s logins on the events stream and exchange inbox entries', async () => {
    r.fresh();
    const n1 = await start('n1');
    const n2 = await start('n2');
    await r.link().call('DEL', [r.keys.settling]);
    expect(await n1.node.sessions.claim('yoda')).toEqual({ ok: true, already: false });
    await waitFor(() => n2.events.length === 1, 'n2 to see the login');
    expect(n2.events[0]).toEqual({ type: 'login', user: 'yoda', owner: n1.node.lease.owner, at: expect.any(Number) });
    await n1.node.send('n2', { type: 'deliver', origin: 'n1:1', from: 'yoda', to: 'leia', at: 1, body: 'hi', replyTo: 'n1' });
    await waitFor(() => n2.inbox.length === 1, 'the delivery');
    expect(n2.inbox[0]).toMatchObject({ type: 'deliver', body: 'hi' });
    expect(n1.inbox).toEqual([]);
  });

  test('what a node queues for another in one turn arrives as one stream entry, handed on entry by entry, in order; send() does not overtake it', async () => {
    r.fresh();
    const n1 = await start('n1');
    const n2 = await start('n2');
    const inbox = r.keys.inbox('n2');
    const before = await r.link().call<number>('XLEN', [inbox]);
    const deliver = (n: number) => ({ type: 'deliver' as const, origin: `n1:${n}`, key: n, from: 'yoda', to: 'leia', at: n, body: `m${n}`, replyTo: 'n1' });
    n1.node.queue('n2', deliver(1));
    n1.node.queue('n2', { type: 'delivered', origins: ['n2:1'] });
    n1.node.queue('n2', deliver(2));
    n1.node.queue('n2', { type: 'delivered', origins: ['n2:2'] });
    n1.node.queue('n2', { type: 'refused', origin: 'n2:3', reason: 'blocked' });
    await n1.node.send('n2', { type: 'backlog', user: 'leia' });
    await waitFor(() => n2.inbox.length === 5, 'the entries');
    expect(n2.inbox).toEqual([
      deliver(1),
      { type: 'delivered', origins: ['n2:1', 'n2:2'] },
      deliver(2),
      { type: 'refused', origin: 'n2:3', reason: 'blocked' },
      { type: 'backlog', user: 'leia' },
    ]);
    // One pack and the backlog entry.
    expect((await r.link().call<number>('XLEN', [inbox])) - before).toBe(2);
    expect(n2.logs.filter((l) => l.startsWith('skipped'))).toEqual([]);
  });

  test('an entry of a pack whose handler fails is logged; the entries after it are still handed on', async () => {
    r.fresh();
    const n1 = await start('n1');
    const seen: string[] = [];
    const n2 = await start('n2', {
      onInbox: (e) => {
        if (e.type === 'refused' && e.origin === 'n2:1') throw new Error('boom');
        seen.push(e.type === 'refused' ? e.origin : e.type);
      },
    });
    n1.node.queue('n2', { type: 'refused', origin: 'n2:1', reason: 'offline' });
    n1.node.queue('n2', { type: 'refused', origin: 'n2:2', reason: 'offline' });
    await waitFor(() => seen.length === 1, 'the second entry');
    expect(seen).toEqual(['n2:2']);
    expect(n2.logs).toContain('handling a refused entry failed: Error: boom');
  });

  test('a pack in the events stream is skipped with one line: packs belong in an inbox', async () => {
    r.fresh();
    const n1 = await start('n1');
    await n1.node.link.call('XADD', [r.keys.events, '*', 'type', 'pack', 'd', JSON.stringify({ entries: [{ type: 'delivered', origins: ['n2:1'] }] })]);
    await waitFor(() => n1.logs.some((l) => l.includes('a pack entry does not belong there')), 'the line');
    expect(n1.inbox).toEqual([]);
    expect(n1.events).toEqual([]);
  });

  test('CLU-3: a node that dies: its sessions are cleared with logouts, watchers hear its owner died, its users can log in elsewhere', async () => {
    r.fresh();
    const n1 = await start('n1');
    const n2 = await start('n2');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.node.sessions.claim('yoda');
    const dead = n1.node.lease.owner;
    n2.node.watch(dead);
    await n1.node.abandon(); // as if killed: nothing given up
    await waitFor(() => n2.dead.length === 1, 'n2 to notice n1’s death');
    expect(n2.dead).toEqual([dead]);
    await waitFor(() => n2.events.some((e) => e.type === 'logout' && e.user === 'yoda'), 'the logout of yoda');
    expect(await n2.node.sessions.claim('yoda')).toEqual({ ok: true, already: false });
  });

  test('a clean stop gives the lease up: the node’s users are logged out at once, not after the lease', async () => {
    r.fresh();
    const n1 = await start('n1', { leaseMs: 60_000 });
    const n2 = await start('n2', { leaseMs: 60_000 });
    await r.link().call('DEL', [r.keys.settling]);
    await n1.node.sessions.claim('yoda');
    await n1.node.stop();
    await waitFor(() => n2.events.some((e) => e.type === 'logout'), 'the logout of yoda');
    expect(await n2.node.sessions.claim('yoda')).toEqual({ ok: true, already: false });
  });

  test('CLU-4: Redis SIGKILLed and restarted empty: both nodes re-assert, are told to re-claim, and traffic resumes', async () => {
    r.fresh();
    const n1 = await start('n1', { leaseMs: 3000 });
    const n2 = await start('n2', { leaseMs: 3000 });
    await r.redis.kill();
    await waitFor(() => n1.logs.some((l) => l.includes('unreachable')), 'n1 to report Redis unreachable');
    await r.redis.restart();
    await waitFor(() => n1.told.length > 0 && n2.told.length > 0, 'both nodes to re-assert');
    expect([n1.told, n2.told]).toEqual([['reset'], ['reset']]);
    expect(n1.logs).toContain(`redis ${r.redis.url}: reachable`);
    await waitFor(() => n1.node.readerSilentFor() < 500, 'the reader to hear from Redis again');
    await n2.node.send('n1', { type: 'backlog', user: 'yoda' });
    await waitFor(() => n1.inbox.length === 1, 'an entry after the restart');
    expect(n1.inbox[0]).toEqual({ type: 'backlog', user: 'yoda' });
  });

  test('malformed or misplaced entries are logged and skipped, the reader goes on', async () => {
    r.fresh();
    const n1 = await start('n1');
    const raw = r.link();
    await raw.call('XADD', [n1.node.inbox, '*', 'type', 'deliver', 'd', '{']);
    await raw.call('XADD', [n1.node.inbox, '*', 'type', 'blocks', 'd', '{"blocker":"yoda"}']);
    await n1.node.send('n1', { type: 'backlog', user: 'leia' });
    await waitFor(() => n1.inbox.length === 1, 'the good entry');
    expect(n1.logs.filter((l) => l.startsWith('skipped'))).toEqual([
      `skipped an entry of ${n1.node.inbox}: malformed deliver entry: data is not JSON`,
      `skipped an entry of ${n1.node.inbox}: a blocks entry does not belong there`,
    ]);
  });

  test('a second live process with the same node name cannot start', async () => {
    r.fresh();
    await start('n1', { leaseMs: 3000 });
    const error = await start('n1', { leaseMs: 3000, startMs: 300 }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('cannot start node n1: another live process holds its name');
  });
});

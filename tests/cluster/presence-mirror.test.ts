import { afterEach, describe, expect, test } from 'bun:test';
import { ClusterNode } from '../../src/cluster/cluster-node.ts';
import type { EventEntry } from '../../src/cluster/node-messages.ts';
import { PresenceMirror, type PresenceChange } from '../../src/cluster/presence-mirror.ts';
import { lastId } from '../../src/cluster/streams.ts';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

describe('PresenceMirror.apply', () => {
  test('PRES-1: a login and a logout each change once; a takeover is the old owner’s logout then the new login', () => {
    const m = new PresenceMirror();
    expect(m.apply({ type: 'login', user: 'yoda', owner: 'n1#a', at: 1 })).toBe('login');
    expect(m.apply({ type: 'login', user: 'yoda', owner: 'n1#a', at: 1 })).toBeUndefined();
    expect(m.apply({ type: 'logout', user: 'yoda', owner: 'n1#a', at: 5 })).toBe('logout');
    expect(m.lastSeen.get('yoda')).toBe(5);
    expect(m.apply({ type: 'logout', user: 'yoda', owner: 'n1#a', at: 5 })).toBeUndefined();
    expect(m.apply({ type: 'login', user: 'yoda', owner: 'n2#b', at: 7 })).toBe('login');
    expect(m.lastSeen.has('yoda')).toBe(false);
    // A late logout of an owner that no longer holds the session changes nothing.
    expect(m.apply({ type: 'logout', user: 'yoda', owner: 'n1#a', at: 8 })).toBeUndefined();
    expect(m.online.get('yoda')).toBe('n2#b');
  });

  test('PRES-3: online now or seen since a time', () => {
    const m = new PresenceMirror();
    m.apply({ type: 'login', user: 'yoda', owner: 'n1#a', at: 1 });
    m.apply({ type: 'login', user: 'leia', owner: 'n1#a', at: 1 });
    m.apply({ type: 'logout', user: 'leia', owner: 'n1#a', at: 100 });
    m.apply({ type: 'login', user: 'hans', owner: 'n1#a', at: 1 });
    m.apply({ type: 'logout', user: 'hans', owner: 'n1#a', at: 50 });
    expect(m.onlineOrSeenSince(60).toSorted()).toEqual(['leia', 'yoda']);
    expect(m.onlineOrSeenSince(0).toSorted()).toEqual(['hans', 'leia', 'yoda']);
  });
});

describe.skipIf(skip)('PresenceMirror with Redis', () => {
  const nodes: ClusterNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.abandon();
  });
  async function start(name: string, onEvent?: (e: EventEntry, c: PresenceChange) => void): Promise<ClusterNode> {
    const node = new ClusterNode({ url: r.redis.url, node: name, keys: r.keys, leaseMs: 600, refreshMs: 100, janitorMs: 100, ...(onEvent && { onEvent }) });
    nodes.push(node);
    await node.start();
    return node;
  }

  test('a snapshot holds who is online and when the others left, with the events position of that moment', async () => {
    r.fresh();
    const n1 = await start('n1');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    await n1.sessions.claim('leia');
    await n1.sessions.release('leia');
    const m = new PresenceMirror();
    const { position, changes } = await m.load(r.link(), r.keys);
    expect([...m.online]).toEqual([['yoda', n1.lease.owner]]);
    expect([...m.lastSeen.keys()]).toEqual(['leia']);
    expect(position).toBe(await lastId(r.link(), r.keys.events));
    expect(changes).toEqual([['yoda', 'login']]);
  });

  test('PRES-1 / PRES-2 across nodes: a node started later knows who is online; logins, logouts and a dead node’s users reach it as changes', async () => {
    r.fresh();
    const n1 = await start('n1');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    const seen: [string, string, PresenceChange][] = [];
    const n2 = await start('n2', (e, change) => {
      if (e.type === 'login' || e.type === 'logout') seen.push([e.type, e.user, change]);
    });
    expect([...n2.presence.online.keys()]).toEqual(['yoda']);
    await n1.sessions.claim('leia');
    await n2.sessions.claim('hans');
    await n1.sessions.release('leia');
    await waitFor(() => seen.length === 3, 'three presence entries');
    expect(seen).toEqual([
      ['login', 'leia', 'login'],
      ['login', 'hans', 'login'],
      ['logout', 'leia', 'logout'],
    ]);
    await nodes[0]?.abandon(); // n1 dies with yoda online
    await waitFor(() => seen.length === 4, 'yoda’s logout after n1’s death');
    expect(seen[3]).toEqual(['logout', 'yoda', 'logout']);
    expect([...n2.presence.online.keys()]).toEqual(['hans']);
    expect(n2.presence.onlineOrSeenSince(0).toSorted()).toEqual(['hans', 'leia', 'yoda']);
  });

  test('after Redis restarted empty, a reload once nodes re-asserted keeps last-seen times and reports who vanished', async () => {
    r.fresh();
    const n1 = await start('n1');
    await r.link().call('DEL', [r.keys.settling]);
    await n1.sessions.claim('yoda');
    await n1.sessions.claim('leia');
    await n1.sessions.release('leia');
    const m = new PresenceMirror();
    await m.load(r.link(), r.keys);
    const leiaSeen = m.lastSeen.get('leia');
    await r.redis.kill();
    await r.redis.restart();
    await n1.lease.tick();
    await n1.sessions.claim('yoda', { reassert: true });
    // hans was online on a node that died during the outage: nobody re-asserted him.
    m.online.set('hans', 'n9#gone');
    const { changes } = await m.load(r.link(), r.keys, 12345);
    expect(changes).toEqual([['hans', 'logout']]);
    expect([...m.online.keys()]).toEqual(['yoda']);
    expect(m.lastSeen.get('leia')).toBe(leiaSeen as number);
    expect(m.lastSeen.get('hans')).toBe(12345);
  });
});

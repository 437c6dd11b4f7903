import { afterEach, describe, expect, test } from 'bun:test';
import { Handoffs, type HandoffOutcome } from '../../src/cluster/handoffs.ts';
import { StoreUnavailableError, type OriginMessage } from '../../src/store/async-store.ts';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

// A real (SQLite) store behind a switch that makes it unavailable, as PostgreSQL is when it is down.
class SwitchableStore {
  down = false;
  calls = 0;
  constructor(readonly inner: SqliteAsyncStore) {}
  async storeOnce(messages: readonly OriginMessage[]): Promise<number> {
    this.calls++;
    if (this.down) throw new StoreUnavailableError('store messages', { cause: new Error('ERR_POSTGRES_CONNECTION_REFUSED') });
    return this.inner.storeOnce(messages);
  }
}

const stores: SqliteAsyncStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setUp(options: ConstructorParameters<typeof Handoffs>[1] = {}) {
  const inner = new SqliteAsyncStore(new SqliteStore(':memory:'));
  stores.push(inner);
  const store = new SwitchableStore(inner);
  const told = new Map<string, HandoffOutcome[]>();
  const handoffs = new Handoffs(store, { ackMs: 10_000, retryMs: 500, ...options });
  let seq = 0;
  const hand = (owner: string, now: number, to = 'yoda'): string => {
    const origin = `n1:${++seq}`;
    told.set(origin, []);
    handoffs.hand({ id: seq, from: 'hans', to, at: now, body: `m${seq}`, origin }, owner, now, (o) => told.get(origin)?.push(o));
    return origin;
  };
  return { store, inner, handoffs, told, hand };
}

describe('Handoffs', () => {
  test('storeAll (a node stopping): everything held is stored at once, each told `stored` after the commit', async () => {
    const { handoffs, told, hand, inner } = setUp();
    const a = hand('n2#1', 0);
    const b = hand('n3#1', 0);
    await handoffs.storeAll(1);
    expect(told.get(a)).toEqual(['stored']);
    expect(told.get(b)).toEqual(['stored']);
    expect(await inner.countFor('yoda')).toBe(2);
    expect(handoffs.size).toBe(0);
  });

  test('CLU-3: a message the owner confirms is delivered, never stored', async () => {
    const { handoffs, told, hand, inner } = setUp();
    const a = hand('n2#e1', 0);
    handoffs.delivered([a, 'unknown']);
    await handoffs.tick(20_000);
    expect(told.get(a)).toEqual(['delivered']);
    expect(await inner.countFor('yoda')).toBe(0);
    expect(handoffs.size).toBe(0);
  });

  test('CLU-3: no confirmation within ackMs: stored, and the sender hears `stored` only after the commit', async () => {
    const { handoffs, told, hand, inner } = setUp();
    const a = hand('n2#e1', 0);
    const b = hand('n2#e1', 5_000);
    await handoffs.tick(9_999);
    expect(told.get(a)).toEqual([]);
    const ticking = handoffs.tick(10_000);
    expect(told.get(a)).toEqual([]); // not before the commit
    await ticking;
    expect(told.get(a)).toEqual(['stored']);
    expect(told.get(b)).toEqual([]);
    expect((await inner.messagesFor('yoda')).map((m) => m.body)).toEqual(['m1']);
    // The owner's late confirmation changes nothing: the recipient drops the second copy by its key.
    handoffs.delivered([a]);
    expect(told.get(a)).toEqual(['stored']);
  });

  test('CLU-3: the owner’s epoch died: everything handed to it is stored at once, others keep waiting', async () => {
    const stored: string[] = [];
    const { handoffs, told, hand, inner } = setUp({ afterStore: (to) => stored.push(to) });
    const a = hand('n2#e1', 0, 'yoda');
    const b = hand('n2#e1', 1, 'leia');
    const c = hand('n3#e1', 2, 'luke');
    await handoffs.ownerDead('n2#e1', 10);
    expect([told.get(a), told.get(b), told.get(c)]).toEqual([['stored'], ['stored'], []]);
    expect(await inner.countFor('yoda')).toBe(1);
    expect(stored.toSorted()).toEqual(['leia', 'yoda']);
  });

  test('CLU-4: while the store is unavailable nothing is told and nothing dropped; it is retried after retryMs until it commits', async () => {
    const logs: string[] = [];
    const { handoffs, told, hand, store, inner } = setUp({ onLog: (l) => logs.push(l) });
    const a = hand('n2#e1', 0);
    store.down = true;
    await handoffs.ownerDead('n2#e1', 0);
    expect(told.get(a)).toEqual([]);
    expect(handoffs.size).toBe(1);
    expect(logs).toEqual(['Cannot store messages: the store is unavailable (ERR_POSTGRES_CONNECTION_REFUSED); 1 handed-off messages will be stored when it is back']);
    const b = hand('n2#e1', 100);
    await handoffs.ownerDead('n2#e1', 100); // before retryMs: no attempt
    await handoffs.tick(200);
    expect(store.calls).toBe(1);
    expect(told.get(b)).toEqual([]);
    store.down = false;
    await handoffs.tick(1_000);
    expect([told.get(a), told.get(b)]).toEqual([['stored'], ['stored']]);
    expect(store.calls).toBe(2);
    expect((await inner.messagesFor('yoda')).map((m) => m.body)).toEqual(['m1', 'm2']);
    expect(handoffs.size).toBe(0);
  });

  test('a store error that is not about availability fails the messages with `failed` (the sender is told to retry)', async () => {
    const { handoffs, told, hand, inner } = setUp();
    await inner.commit([{ id: 1, from: 'x', to: 'yoda', at: 0, body: 'taken id' }], []);
    const a = hand('n2#e1', 0); // id 1 again: a constraint error, not a retryable one
    await handoffs.ownerDead('n2#e1', 0);
    expect(told.get(a)).toEqual(['failed']);
  });

  test('refused by the owner: `offline` is stored at once (OFF-1), `blocked` is told and never stored (MSG-2)', async () => {
    const { handoffs, told, hand, inner } = setUp();
    const a = hand('n2#e1', 0);
    const b = hand('n2#e1', 0);
    await handoffs.refused(a, 'offline', 1);
    await handoffs.refused(b, 'blocked', 1);
    await handoffs.refused('unknown', 'offline', 1);
    expect([told.get(a), told.get(b)]).toEqual([['stored'], ['blocked']]);
    expect((await inner.messagesFor('yoda')).map((m) => m.body)).toEqual(['m1']);
    expect(handoffs.size).toBe(0);
  });

  test('CLU-4 handAgain (Redis restarted empty): everything held is returned to be handed again, with a fresh ackMs', async () => {
    const { handoffs, told, hand, inner } = setUp();
    const a = hand('n2#1', 0);
    const b = hand('n3#1', 5_000);
    const again = handoffs.handAgain(8_000);
    expect(again.map((h) => [h.msg.origin, h.owner])).toEqual([
      [a, 'n2#1'],
      [b, 'n3#1'],
    ]);
    // ackMs counts from the new hand-off: nothing is stored at 10 s after the first one.
    await handoffs.tick(12_000);
    expect(told.get(a)).toEqual([]);
    handoffs.delivered([a]);
    await handoffs.tick(18_000);
    expect(told.get(a)).toEqual(['delivered']);
    expect(told.get(b)).toEqual(['stored']);
    expect(await inner.countFor('yoda')).toBe(1);
  });

  test('a `delivered` that comes while a store waits for the store to come back: delivered, not stored; unstored() lists what is not safe yet', async () => {
    const { handoffs, told, hand, store, inner } = setUp();
    const a = hand('n2#1', 0);
    const b = hand('n2#1', 0);
    store.down = true;
    await handoffs.storeAll(1);
    expect(handoffs.unstored().map((m) => m.origin)).toEqual([a, b]);
    handoffs.delivered([a]);
    expect(told.get(a)).toEqual(['delivered']);
    expect(handoffs.unstored().map((m) => m.origin)).toEqual([b]);
    store.down = false;
    await handoffs.tick(1_000);
    expect(told.get(b)).toEqual(['stored']);
    expect(handoffs.unstored()).toEqual([]);
    expect(await inner.countFor('yoda')).toBe(1);
  });
});

// IdAllocator: message ids from blocks reserved in the store, and the id a message is written with (CLU-3).

import { describe, expect, test } from 'bun:test';
import { IdAllocator } from '../../src/server/state.ts';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

async function allocator(): Promise<{ ids: IdAllocator; store: SqliteAsyncStore }> {
  const store = new SqliteAsyncStore(new SqliteStore(':memory:'));
  const ids = new IdAllocator(store, () => {}, 10);
  await ids.start();
  return { ids, store };
}

describe('IdAllocator (CLU-3)', () => {
  test('stamp: a message written in the turn it was accepted keeps its key as its id; any other gets a fresh, higher id', async () => {
    const { ids } = await allocator();
    const early = ids.take();
    const key = ids.take();
    expect(ids.stamp(key)).toBe(key);
    // Written later (stored, handed over, held): a fresh id above everything handed out.
    const again = ids.stamp(early);
    expect(again).toBeGreaterThan(key);
    expect(ids.stamp(key)).toBeGreaterThan(again);
  });

  test('stamp after renew (a login in a cluster): never the key, always from the new block', async () => {
    const { ids, store } = await allocator();
    const key = ids.take();
    // Another node reserved blocks meanwhile.
    const elsewhere = await store.reserveIds(10);
    await ids.renew();
    const id = ids.stamp(key);
    expect(id).not.toBe(key);
    expect(id).toBeGreaterThan(elsewhere);
  });
});

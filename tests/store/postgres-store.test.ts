// PostgresStore against a real PostgreSQL (one per file, a fresh database per test): the AsyncStore
// contract, what only a shared database does (two nodes at once, batches past the parameter limit),
// and what happens when PostgreSQL goes away and comes back (CLU-4).

import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { Handoffs, type HandoffOutcome } from '../../src/cluster/handoffs.ts';
import { OfflineQueue } from '../../src/server/offline-queue.ts';
import { isRetryable, StoreUnavailableError, type Ack, type AsyncStore, type StoredMessage } from '../../src/store/async-store.ts';
import { POSTGRES_SCHEMA_VERSION, PostgresStore } from '../../src/store/postgres-store.ts';
import { ENGINE_START_MS, PostgresEngine, postgresMissing, skipUnless } from '../helpers/engines.ts';
import { asyncStoreContract, msg, origin } from './async-store.case.ts';

const skip = skipUnless(import.meta.path, postgresMissing());

let engine: PostgresEngine | undefined;
beforeAll(async () => {
  if (!skip) engine = await PostgresEngine.start();
}, ENGINE_START_MS);
afterAll(async () => {
  await engine?.stop();
});
const pg = (): PostgresEngine => engine as PostgresEngine;

asyncStoreContract(
  'PostgreSQL',
  async () => {
    const url = await pg().createDatabase();
    return () => PostgresStore.open(url);
  },
  { skip },
);

describe.skipIf(skip)('PostgresStore', () => {
  const open: AsyncStore[] = [];
  const store = async (url: string, options?: Parameters<typeof PostgresStore.open>[1]): Promise<PostgresStore> => {
    const s = await PostgresStore.open(url, options);
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  test('records its schema version, and refuses a database from a newer program', async () => {
    const url = await pg().createDatabase();
    await (await store(url)).close();
    const sql = new SQL(url);
    try {
      expect((await sql`SELECT max(version) AS v FROM chat_schema`)[0].v).toBe(POSTGRES_SCHEMA_VERSION);
      await sql`INSERT INTO chat_schema (version) VALUES (${POSTGRES_SCHEMA_VERSION + 1})`;
    } finally {
      await sql.close();
    }
    await expect(PostgresStore.open(url)).rejects.toThrow('newer');
  });

  test('nodes starting together migrate once and share accounts, origins, ids and the instance id (CLU-1)', async () => {
    const url = await pg().createDatabase();
    const [a, b, c] = await Promise.all([store(url), store(url), store(url)]);
    if (!a || !b || !c) throw new Error('three stores expected');
    expect(new Set(await Promise.all([a.instanceId(), b.instanceId(), c.instanceId()])).size).toBe(1);
    expect(await a.addAccount({ name: 'rey', secret: 'jakku' })).toBe(true);
    expect(await b.addAccount({ name: 'rey', secret: 'other' })).toBe(false);
    expect(await c.accounts()).toEqual([{ name: 'rey', secret: 'jakku' }]);
    // The same handed-off message stored by two nodes at once is stored once.
    const counts = await Promise.all([a.storeOnce([origin('n1:7', 7)]), b.storeOnce([origin('n1:7', 7)])]);
    expect(counts.toSorted()).toEqual([0, 1]);
    expect(await c.countFor('yoda')).toBe(1);
    const firsts = (await Promise.all([a, b, c, a, b, c].map((s) => s.reserveIds(1000)))).toSorted((x, y) => x - y);
    for (let i = 1; i < firsts.length; i++) expect(firsts[i] as number).toBeGreaterThanOrEqual((firsts[i - 1] as number) + 1000);
  });

  test('SEC-3 two look-alike names registered at once on two nodes: one is added; accounts from before the name keys get theirs at the next start', async () => {
    const url = await pg().createDatabase();
    const [a, b] = await Promise.all([store(url), store(url)]);
    if (!a || !b) throw new Error('two stores expected');
    const added = await Promise.all([a.addAccount({ name: 'Rey', secret: 'x' }), b.addAccount({ name: 'rey', secret: 'y' })]);
    expect(added.toSorted()).toEqual([false, true]);
    expect((await a.accounts()).length).toBe(1);
    // An account written by an older program, without name keys.
    const sql = new SQL(url);
    try {
      await sql`INSERT INTO accounts (name, secret) VALUES ('mara', 's')`;
    } finally {
      await sql.close();
    }
    expect(await a.similarAccount('rnara')).toBeUndefined();
    const later = await store(url);
    expect(await later.similarAccount('rnara')).toBe('mara');
    expect(await later.addAccount({ name: 'MARA', secret: 'z' })).toBe(false);
  });

  test('batches of any size (past the 65,535 parameters of a statement) go in whole, as array parameters', async () => {
    const s = await store(await pg().createDatabase());
    const many = Array.from({ length: 15_000 }, (_, i) => msg(i + 1, 'luke'));
    await s.commit(many, []);
    expect(await s.countFor('luke')).toBe(15_000);
    const handed = Array.from({ length: 15_000 }, (_, i) => origin(`n2:${i}`, 100_000 + i, 'rey'));
    expect(await s.storeOnce(handed)).toBe(15_000);
    expect(await s.storeOnce(handed)).toBe(0);
    const accounts = Array.from({ length: 33_000 }, (_, i) => ({ name: `user${i}`, secret: 's' }));
    expect(await s.seedAccounts(accounts)).toBe(33_000);
  }, ENGINE_START_MS);

  test('ids past 2^32 come back as the same numbers (Bun returns bigint as a string)', async () => {
    const s = await store(await pg().createDatabase());
    const big = 2 ** 40 + 3;
    await s.commit([msg(big)], []);
    const [back] = await s.messagesFor('yoda');
    expect(back?.id).toBe(big);
    expect(typeof back?.at).toBe('number');
    expect(await s.reserveIds(10)).toBe(big + 1);
  });
});

describe.skipIf(skip)('PostgresStore when PostgreSQL goes away (CLU-4)', () => {
  test('a call while it is down fails with a retryable StoreUnavailableError; after a restart the retry succeeds and nothing committed is lost', async () => {
    const url = await pg().createDatabase();
    const s = await PostgresStore.open(url);
    try {
      await s.commit([msg(1), msg(2)], []);
      expect(await s.storeOnce([origin('n1:3', 3)])).toBe(1);
      await s.addBlock('yoda', 'vader');

      await pg().crash();
      const failed = await s.storeOnce([origin('n1:4', 4)]).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(StoreUnavailableError);
      expect(isRetryable(failed)).toBe(true);
      expect((failed as Error).message).toStartWith('Cannot store messages: the store is unavailable');
      expect(await s.countFor('yoda').catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);

      await pg().restart();
      expect(await s.storeOnce([origin('n1:4', 4)])).toBe(1);
      expect((await s.messagesFor('yoda')).map((m) => m.id)).toEqual([1, 2, 3, 4]);
      expect(await s.blocks()).toEqual([['yoda', 'vader']]);
    } finally {
      await s.close();
    }
  }, ENGINE_START_MS);

  test('a call to a PostgreSQL that does not answer times out as retryable; the retry stores it exactly once', async () => {
    const url = await pg().createDatabase();
    const s = await PostgresStore.open(url, { timeoutMs: 300 });
    try {
      pg().pause();
      let failed: unknown;
      try {
        failed = await s.storeOnce([origin('n1:9', 9)]).catch((e: unknown) => e);
      } finally {
        pg().resume();
      }
      expect(isRetryable(failed)).toBe(true);
      // Whether or not the first attempt committed once PostgreSQL woke up, the retry leaves one copy.
      await s.storeOnce([origin('n1:9', 9)]);
      expect((await s.messagesFor('yoda')).map((m) => m.id)).toEqual([9]);
    } finally {
      await s.close();
    }
  });

  test('a commit whose answer was lost after it committed is tried again: the senders hear `stored`, each message is stored once (CLU-4)', async () => {
    const s = await PostgresStore.open(await pg().createDatabase());
    try {
      await s.commit([msg(1)], []);
      // The first try commits, then its answer is lost (the connection drops, or the deadline passes
      // while PostgreSQL stalls): the queue cannot know it committed and tries again.
      let answersLost = 1;
      const lossy: AsyncStore = Object.assign(Object.create(s) as PostgresStore, {
        async commit(inserts: readonly StoredMessage[], acks: readonly Ack[], options?: { again?: boolean }) {
          await s.commit(inserts, acks, options);
          if (answersLost-- > 0) throw new StoreUnavailableError('store messages', { cause: new Error('the answer was lost') });
        },
      });
      const queue = new OfflineQueue(lossy);
      const told: string[] = [];
      for (const id of [2, 3]) queue.add(msg(id), (error) => told.push(error ? `failed: ${String(error)}` : 'stored'));
      queue.ack('yoda', [1]);
      await queue.flush();
      expect(told).toEqual(['stored', 'stored']);
      expect((await s.messagesFor('yoda')).map((m) => m.id)).toEqual([2, 3]);
      // Retries only forgive the same message again: a fresh commit still refuses an id twice (all or nothing).
      await expect(s.commit([msg(4), msg(2)], [])).rejects.toThrow();
      expect(await s.countFor('yoda')).toBe(2);
    } finally {
      await s.close();
    }
  });

  test('handed-off messages whose owner died while PostgreSQL was down are stored once it is back, and only then told `stored`', async () => {
    const s = await PostgresStore.open(await pg().createDatabase());
    try {
      const told: HandoffOutcome[] = [];
      const handoffs = new Handoffs(s, { retryMs: 0 });
      for (let i = 1; i <= 50; i++) handoffs.hand(origin(`n1:${i}`, i), 'n2#e1', 0, (o) => told.push(o));
      await pg().crash();
      await handoffs.ownerDead('n2#e1', 1);
      expect(told).toEqual([]);
      await pg().restart();
      await handoffs.tick(2);
      expect(told).toEqual(Array(50).fill('stored'));
      expect((await s.messagesFor('yoda')).map((m) => m.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    } finally {
      await s.close();
    }
  }, ENGINE_START_MS);

  test('opening a store while PostgreSQL is down fails with one clear retryable error', async () => {
    const url = await pg().createDatabase();
    await pg().crash();
    try {
      const failed = await PostgresStore.open(url).catch((e: unknown) => e);
      expect(isRetryable(failed)).toBe(true);
      expect((failed as Error).message).toBe('Cannot migrate the database: the store is unavailable (ERR_POSTGRES_CONNECTION_REFUSED)');
    } finally {
      await pg().restart();
    }
  }, ENGINE_START_MS);
});

// The AsyncStore contract: one suite, run against every implementation (SQLite through the adapter,
// PostgreSQL), in the manner of hono's common.case.test.ts. `backing()` makes fresh, empty storage
// and returns a function that opens a store on it; calling that twice gives two stores on the same
// data (a restart for SQLite, two nodes for PostgreSQL).

import { afterEach, describe, expect, test } from 'bun:test';
import type { AsyncStore, OriginMessage, StoredMessage } from '../../src/store/async-store.ts';

export type Opener = () => Promise<AsyncStore>;

export const msg = (id: number, to = 'yoda', from = 'hans'): StoredMessage => ({ id, from, to, at: 1_700_000_000_000 + id, body: `body ${id} 🙂` });
export const origin = (key: string, id: number, to = 'yoda'): OriginMessage => ({ ...msg(id, to), origin: key });

/** Bodies that break naive quoting or array literals. */
const AWKWARD = ['NULL', '"quoted" \'single\'', 'back\\slash \\\\ {brace}, comma', '', ' ', '🙂 ∑ ü ﷽', '$1 ?', 'x'.repeat(10_000)];

export function asyncStoreContract(name: string, backing: () => Promise<Opener>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`AsyncStore contract: ${name}`, () => {
    const open: AsyncStore[] = [];
    async function fresh(): Promise<{ store: AsyncStore; again: Opener }> {
      const opener = await backing();
      const again: Opener = async () => {
        const s = await opener();
        open.push(s);
        return s;
      };
      return { store: await again(), again };
    }
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => {});
    });

    test('messages come back per recipient, oldest first, exactly as stored (OFF-2)', async () => {
      const { store } = await fresh();
      await store.commit([msg(3), msg(1), msg(2, 'leia'), msg(5)], []);
      expect((await store.messagesFor('yoda')).map((m) => m.id)).toEqual([1, 3, 5]);
      expect((await store.messagesFor('yoda'))[0]).toEqual(msg(1));
      expect(await store.countFor('leia')).toBe(1);
      expect(await store.countFor('nobody')).toBe(0);
      expect(await store.messagesFor('nobody')).toEqual([]);
    });

    test('awkward bodies and names survive the round trip unchanged, through commit and storeOnce', async () => {
      const { store } = await fresh();
      const messages = AWKWARD.map((body, i) => ({ ...msg(i + 1, 'o"b{i}\\'), body }));
      await store.commit(messages, []);
      const handed = AWKWARD.map((body, i) => ({ ...origin(`n"{${i}}\\`, 100 + i, 'NULL'), from: '{x,y}', body }));
      expect(await store.storeOnce(handed)).toBe(AWKWARD.length);
      expect(await store.messagesFor('o"b{i}\\')).toEqual(messages);
      expect(await store.messagesFor('NULL')).toEqual(handed.map(({ origin: _, ...m }) => m));
      expect(await store.storeOnce(handed)).toBe(0);
      await store.commit([], [{ user: 'o"b{i}\\', ids: [1, 2, 3] }]);
      expect(await store.countFor('o"b{i}\\')).toBe(AWKWARD.length - 3);
    });

    test('an ack removes the recipient’s messages with its ids (keys) and no others, not even lower ones (CLU-3)', async () => {
      const { store } = await fresh();
      await store.commit([msg(1), msg(2), msg(3), msg(4, 'leia'), msg(5)], []);
      await store.commit([], [{ user: 'yoda', ids: [2, 3] }, { user: 'yoda', ids: [4] }]);
      expect((await store.messagesFor('yoda')).map((m) => m.id)).toEqual([1, 5]);
      expect(await store.countFor('leia')).toBe(1);
      await store.commit([], [{ user: 'yoda', ids: [2, 3] }]);
      expect(await store.countFor('yoda')).toBe(2);
    });

    test('a commit is all or nothing', async () => {
      const { store } = await fresh();
      await store.commit([msg(1)], []);
      await expect(store.commit([msg(2), msg(1)], [])).rejects.toThrow();
      expect((await store.messagesFor('yoda')).map((m) => m.id)).toEqual([1]);
    });

    test('messages and blocks survive reopening (OFF-1, BLK-4)', async () => {
      const { store, again } = await fresh();
      await store.commit([msg(1)], []);
      await store.addBlock('yoda', 'vader');
      await store.addBlock('yoda', 'vader');
      await store.addBlock('leia', 'hans');
      await store.removeBlock('leia', 'hans');
      await store.removeBlock('leia', 'nobody');
      await store.close();
      const reopened = await again();
      expect(await reopened.messagesFor('yoda')).toEqual([msg(1)]);
      expect(await reopened.blocks()).toEqual([['yoda', 'vader']]);
    });

    test('reserved id blocks never overlap, however many are asked for at once and across reopening', async () => {
      const { store, again } = await fresh();
      const firsts = await Promise.all(Array.from({ length: 20 }, () => store.reserveIds(100)));
      const sorted = firsts.toSorted((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i] as number).toBeGreaterThanOrEqual((sorted[i - 1] as number) + 100);
      await store.close();
      expect(await (await again()).reserveIds(1)).toBeGreaterThanOrEqual((sorted.at(-1) as number) + 100);
    });

    test('reserved ids stay above any stored message', async () => {
      const { store } = await fresh();
      await store.commit([msg(5000)], []);
      expect(await store.reserveIds(1)).toBeGreaterThan(5000);
    });

    test('the instance id is the same on every call and after reopening', async () => {
      const { store, again } = await fresh();
      const id = await store.instanceId();
      expect(Number.isSafeInteger(id)).toBe(true);
      expect(await store.instanceId()).toBe(id);
      await store.close();
      expect(await (await again()).instanceId()).toBe(id);
    });

    test('storeOnce stores a message once per origin key, even after it was delivered and acked (CLU-3)', async () => {
      const { store } = await fresh();
      expect(await store.storeOnce([origin('n1:1', 1), origin('n1:2', 2), origin('n1:1', 1)])).toBe(2);
      expect(await store.storeOnce([origin('n1:2', 2), origin('n2:1', 3)])).toBe(1);
      expect((await store.messagesFor('yoda')).map((m) => m.id)).toEqual([1, 2, 3]);
      await store.commit([], [{ user: 'yoda', ids: [1, 2, 3] }]);
      expect(await store.storeOnce([origin('n1:1', 1), origin('n2:1', 3)])).toBe(0);
      expect(await store.countFor('yoda')).toBe(0);
      expect(await store.storeOnce([])).toBe(0);
    });

    test('messages come in pages after an id, and usage counts messages and UTF-8 bytes (SEC-6)', async () => {
      const { store } = await fresh();
      await store.commit([msg(1), msg(2), msg(3), msg(4), msg(5), msg(6, 'leia')], []);
      expect((await store.messagesFor('yoda', 0, 2)).map((m) => m.id)).toEqual([1, 2]);
      expect((await store.messagesFor('yoda', 2, 2)).map((m) => m.id)).toEqual([3, 4]);
      expect((await store.messagesFor('yoda', 4)).map((m) => m.id)).toEqual([5]);
      expect(await store.messagesFor('yoda', 5, 10)).toEqual([]);
      // `body 1 🙂`: 7 ASCII bytes and a 4-byte emoji, and so on.
      const bytes = [1, 2, 3, 4, 5].reduce((n, id) => n + Buffer.byteLength(msg(id).body), 0);
      expect(await store.usageFor('yoda')).toEqual({ count: 5, bytes });
      expect(await store.usageFor('nobody')).toEqual({ count: 0, bytes: 0 });
    });

    test('forgetUser removes what waits for a name and its block list, nothing else (SEC-4)', async () => {
      const { store } = await fresh();
      await store.commit([msg(1), msg(2, 'leia')], []);
      await store.addBlock('yoda', 'vader');
      await store.addBlock('leia', 'yoda');
      await store.forgetUser('yoda');
      expect(await store.countFor('yoda')).toBe(0);
      expect(await store.countFor('leia')).toBe(1);
      expect(await store.blocks()).toEqual([['leia', 'yoda']]);
    });

    test('accounts: seeding adds only new names and keeps existing secrets; a taken name cannot register', async () => {
      const { store } = await fresh();
      expect(await store.seedAccounts([{ name: 'hans', secret: 'falcon*solo' }, { name: 'yoda', secret: 'wise@!man' }])).toBe(2);
      expect(await store.seedAccounts([{ name: 'hans', secret: 'changed' }, { name: 'leia', secret: 'x' }])).toBe(1);
      expect(await store.addAccount({ name: 'leia', secret: 'other' })).toBe(false);
      // Seeded names are not judged (the credentials file may hold both); names are case-sensitive.
      expect(await store.seedAccounts([{ name: 'Leia', secret: 'case-sensitive' }])).toBe(1);
      const accounts = (await store.accounts()).toSorted((a, b) => (a.name < b.name ? -1 : 1));
      expect(accounts).toEqual([
        { name: 'Leia', secret: 'case-sensitive' },
        { name: 'hans', secret: 'falcon*solo' },
        { name: 'leia', secret: 'x' },
        { name: 'yoda', secret: 'wise@!man' },
      ]);
      expect(await store.seedAccounts([])).toBe(0);
      expect(await store.account('hans')).toBe('falcon*solo');
      expect(await store.account('Hans')).toBeUndefined();
    });

    test('SEC-3 accounts: a registration too much like an account (case, look-alike letters) is refused, and the account it is like is found', async () => {
      const { store } = await fresh();
      await store.seedAccounts([{ name: 'hans', secret: 'a' }, { name: 'Hans', secret: 'b' }]);
      expect(await store.addAccount({ name: 'mara', secret: 'c' })).toBe(true);
      for (const like of ['HANS', 'hAns', 'rnara', 'MARA']) expect(await store.addAccount({ name: like, secret: 'x' })).toBe(false);
      expect(await store.similarAccount('HANS')).toBe('hans');
      expect(await store.similarAccount('rnara')).toBe('mara');
      expect(await store.similarAccount('mara')).toBeUndefined();
      expect(await store.similarAccount('yoda')).toBeUndefined();
      expect(await store.account('rnara')).toBeUndefined();
      expect(await store.addAccount({ name: 'yoda', secret: 'd' })).toBe(true);
    });
  });
}

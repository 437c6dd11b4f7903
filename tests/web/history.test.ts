// History, what the page keeps in localStorage (WEB-3): pure, with a Map for storage.

import { describe, expect, test } from 'bun:test';
import { EVERYONE, History, KEEP_ENTRIES, type KeyValue } from '../../src/web/page/history.ts';

class MapStorage implements KeyValue {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
}

const message = (id: number, from = 'yoda', body = `m${id}`) => ({ id, from, at: 1_700_000_000_000 + id, body });

describe('History', () => {
  test('WEB-3 receive from a server before keys: an id at or below the highest seen is not kept again, across a reload', () => {
    const storage = new MapStorage();
    const h = new History(storage, History.keyFor(7, 'hans'));
    expect(h.receive('yoda', message(5))).toBe(true);
    expect(h.receive('yoda', message(5))).toBe(false);
    expect(h.receive('yoda', message(3))).toBe(false);
    h.save();
    const again = new History(storage, History.keyFor(7, 'hans'));
    expect(again.seen).toBe(5);
    expect(again.receive('yoda', message(5))).toBe(false);
    expect(again.receive('yoda', message(6))).toBe(true);
    expect(again.conversation('yoda').entries.map((e) => e.body)).toEqual(['m5', 'm6']);
  });

  test('WEB-3 CLU-3 receive: a message is kept once by its key, whatever its id, across a reload', () => {
    const storage = new MapStorage();
    const h = new History(storage, History.keyFor(7, 'hans'));
    expect(h.receive('yoda', { ...message(50), key: 50 })).toBe(true);
    // Sent again with a new id (a lost ack), then one stored by another node with a lower key.
    expect(h.receive('yoda', { ...message(60), key: 50 })).toBe(false);
    expect(h.receive('yoda', { ...message(61), key: 9 })).toBe(true);
    h.save();
    const again = new History(storage, History.keyFor(7, 'hans'));
    expect(again.receive('yoda', { ...message(70), key: 9 })).toBe(false);
    expect(again.receive('yoda', { ...message(71), key: 71 })).toBe(true);
    expect(again.conversation('yoda').entries.map((e) => e.key)).toEqual([50, 9, 71]);
  });

  test('CLU-3 what a page from before keys saved still loads: its highest id rules keyless messages, keys start afresh', () => {
    const storage = new MapStorage();
    const old = { v: 1, seen: 40, current: 'yoda', conversations: { yoda: { entries: [{ id: 40, from: 'yoda', at: 1, body: 'm40' }], unread: 0 } } };
    storage.setItem(History.keyFor(7, 'hans'), JSON.stringify(old));
    const h = new History(storage, History.keyFor(7, 'hans'));
    expect(h.current).toBe('yoda');
    expect(h.receive('yoda', message(40))).toBe(false);
    expect(h.receive('yoda', { ...message(41), key: 12 })).toBe(true);
    h.save();
    const saved = JSON.parse(storage.getItem(History.keyFor(7, 'hans')) as string) as { seen: number; keys: number[] };
    expect([saved.seen, saved.keys]).toEqual([40, [12]]);
    expect(h.conversation('yoda').entries.map((e) => e.body)).toEqual(['m40', 'm41']);
  });

  test('WEB-3 keyFor: each server instance and user has its own history', () => {
    const storage = new MapStorage();
    const a = new History(storage, History.keyFor(7, 'hans'));
    a.receive('yoda', message(9));
    a.save();
    expect(new History(storage, History.keyFor(8, 'hans')).seen).toBe(0);
    expect(new History(storage, History.keyFor(7, 'leia')).seen).toBe(0);
    expect(History.keyFor(7, 'hans')).not.toBe(History.keyFor(7, 'hansi'));
  });

  test('unread counts every conversation but the open one; opening one clears it', () => {
    const h = new History(new MapStorage(), 'k');
    h.current = 'yoda';
    h.receive('yoda', message(1));
    h.receive('leia', message(2, 'leia'));
    h.receive(EVERYONE, message(3, 'leia'));
    expect(h.conversation('yoda').unread).toBe(0);
    expect(h.unreadTotal()).toBe(2);
    h.current = 'leia';
    expect(h.unreadTotal()).toBe(1);
    // The open conversation counts too while the user is not looking (the tab is hidden).
    h.receive('leia', message(4, 'leia'), false);
    expect(h.conversation('leia').unread).toBe(1);
  });

  test('orphan: own messages still waiting when the connection dropped become unknown', () => {
    const h = new History(new MapStorage(), 'k');
    const waiting = h.sent('yoda', { from: 'hans', at: 1, body: 'hi', mine: true, fate: 'sending' });
    const done = h.sent('yoda', { from: 'hans', at: 2, body: 'ho', mine: true, fate: 'delivered' });
    h.orphan();
    expect(waiting.fate).toBe('unknown');
    expect(done.fate).toBe('delivered');
  });

  test('keeps the last KEEP_ENTRIES entries of a conversation', () => {
    const h = new History(new MapStorage(), 'k');
    for (let id = 1; id <= KEEP_ENTRIES + 10; id++) h.receive('yoda', message(id));
    const entries = h.conversation('yoda').entries;
    expect(entries).toHaveLength(KEEP_ENTRIES);
    expect(entries[0]?.id).toBe(11);
  });

  test('unreadable or foreign storage starts afresh; a failing storage does not throw', () => {
    const storage = new MapStorage();
    storage.setItem('k', '{not json');
    expect(new History(storage, 'k').seen).toBe(0);
    storage.setItem('k', JSON.stringify({ v: 2, seen: 50 }));
    expect(new History(storage, 'k').seen).toBe(0);
    const full: KeyValue = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
    const h = new History(full, 'k');
    h.receive('yoda', message(1));
    expect(() => h.save()).not.toThrow();
  });
});

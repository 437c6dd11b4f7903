import { afterEach, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.ts';
import { tempDir } from '../helpers/test-server.ts';

const open: SqliteStore[] = [];
function store(path: string): SqliteStore {
  const s = new SqliteStore(path);
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) {
    try {
      s.close();
    } catch {}
  }
});

const msg = (id: number, to = 'yoda', from = 'hans') => ({ id, from, to, at: 1000 + id, body: `body ${id} 🙂` });

describe('SqliteStore', () => {
  test('creates the schema with a version number on first open', () => {
    const path = join(tempDir(), 'chat.db');
    store(path).close();
    const db = new Database(path);
    expect((db.query('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    expect((db.query('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    db.close();
  });

  test('refuses a database from a newer version of the program', () => {
    const path = join(tempDir(), 'chat.db');
    const db = new Database(path);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => store(path)).toThrow('newer');
  });

  test('messages come back per recipient, oldest first (OFF-2)', () => {
    const s = store(':memory:');
    s.commit([msg(3), msg(1), msg(2, 'leia'), msg(5)], []);
    expect(s.messagesFor('yoda').map((m) => m.id)).toEqual([1, 3, 5]);
    expect(s.messagesFor('yoda')[0]).toEqual(msg(1));
    expect(s.countFor('leia')).toBe(1);
    expect(s.messagesFor('nobody')).toEqual([]);
  });

  test('an ack removes the recipient’s messages with its ids (keys) and no one else’s', () => {
    const s = store(':memory:');
    s.commit([msg(1), msg(2), msg(3), msg(4, 'leia')], []);
    s.commit([], [{ user: 'yoda', ids: [2, 3] }, { user: 'leia', ids: [1] }]);
    expect(s.messagesFor('yoda').map((m) => m.id)).toEqual([1]);
    expect(s.countFor('leia')).toBe(1);
  });

  test('messages and blocks survive closing and reopening the file (OFF-1, BLK-4)', () => {
    const path = join(tempDir(), 'chat.db');
    const a = store(path);
    a.commit([msg(1)], []);
    a.addBlock('yoda', 'vader');
    a.addBlock('yoda', 'vader');
    a.addBlock('leia', 'hans');
    a.removeBlock('leia', 'hans');
    a.close();
    const b = store(path);
    expect(b.messagesFor('yoda')).toEqual([msg(1)]);
    expect(b.blocks()).toEqual([['yoda', 'vader']]);
  });

  test('reserved id ranges never overlap, across reopening', () => {
    const path = join(tempDir(), 'chat.db');
    const a = store(path);
    const first = a.reserveIds(100);
    const second = a.reserveIds(100);
    expect(second).toBeGreaterThanOrEqual(first + 100);
    a.close();
    const b = store(path);
    expect(b.reserveIds(10)).toBeGreaterThanOrEqual(second + 100);
  });

  test('ids stay above any stored message even without the counter', () => {
    const s = store(':memory:');
    s.commit([msg(500)], []);
    expect(s.reserveIds(1)).toBeGreaterThan(500);
  });

  test('a commit is all or nothing', () => {
    const s = store(':memory:');
    s.commit([msg(1)], []);
    expect(() => s.commit([msg(2), msg(1)], [])).toThrow();
    expect(s.messagesFor('yoda').map((m) => m.id)).toEqual([1]);
  });

  test('messagesFor pages: after an id, at most a limit, oldest first (SEC-6)', () => {
    const s = store(':memory:');
    s.commit([msg(1), msg(2), msg(3), msg(4), msg(5, 'leia')], []);
    expect(s.messagesFor('yoda', 0, 2).map((m) => m.id)).toEqual([1, 2]);
    expect(s.messagesFor('yoda', 2, 2).map((m) => m.id)).toEqual([3, 4]);
    expect(s.messagesFor('yoda', 4, 2)).toEqual([]);
    expect(s.messagesFor('yoda').map((m) => m.id)).toEqual([1, 2, 3, 4]);
  });

  test('usageFor counts messages and the UTF-8 bytes of their texts (SEC-6)', () => {
    const s = store(':memory:');
    s.commit([msg(1), msg(2), msg(3, 'leia')], []);
    const bytes = Buffer.byteLength(msg(1).body) + Buffer.byteLength(msg(2).body);
    expect(s.usageFor('yoda')).toEqual({ count: 2, bytes });
    expect(s.usageFor('nobody')).toEqual({ count: 0, bytes: 0 });
  });

  test("forgetUser deletes a name's stored messages and its block list, nothing else (SEC-4)", () => {
    const s = store(':memory:');
    s.commit([msg(1), msg(2, 'leia')], []);
    s.addBlock('yoda', 'hans');
    s.addBlock('leia', 'yoda');
    s.forgetUser('yoda');
    expect(s.countFor('yoda')).toBe(0);
    expect(s.countFor('leia')).toBe(1);
    expect(s.blocks()).toEqual([['leia', 'yoda']]);
  });

  test('a new database file is readable by its owner only (SEC-7)', () => {
    const path = join(tempDir(), 'chat.db');
    store(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

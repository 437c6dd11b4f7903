// The Store on bun:sqlite in WAL mode. Each statement is prepared once; every write is a transaction,
// so a crash (even kill -9) leaves either all of a commit or none of it.

import { Database, type Statement } from 'bun:sqlite';
import type { Ack, Store, StoredMessage } from './store.ts';

/** Schema changes, in order. The database's user_version says how many have been applied. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE messages (
     id        INTEGER PRIMARY KEY,
     recipient TEXT    NOT NULL,
     sender    TEXT    NOT NULL,
     sent_at   INTEGER NOT NULL,
     body      TEXT    NOT NULL
   );
   CREATE INDEX messages_by_recipient ON messages (recipient, id);
   CREATE TABLE blocks (
     blocker TEXT NOT NULL,
     blocked TEXT NOT NULL,
     PRIMARY KEY (blocker, blocked)
   ) WITHOUT ROWID;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface MessageRow {
  id: number;
  sender: string;
  recipient: string;
  sent_at: number;
  body: string;
}

export class SqliteStore implements Store {
  private readonly db: Database;
  private readonly insert: Statement;
  private readonly deleteOne: Statement;
  private readonly selectFor: Statement<MessageRow, [string, number, number]>;
  private readonly usageStmt: Statement<{ n: number; bytes: number | null }, [string]>;
  private readonly countForStmt: Statement<{ n: number }, [string]>;
  private readonly commitTx: (inserts: readonly StoredMessage[], acks: readonly Ack[]) => void;

  /** Opens (creating and migrating if needed) the database at `path`; `:memory:` for none. */
  constructor(path: string) {
    // SEC-7: made readable by its owner only (created under umask 077; an existing file keeps its
    // mode); SQLite gives the -wal and -shm files the database's mode. Not node:fs: loading it costs
    // ~5 MiB of RSS (B8).
    const umask = process.umask(0o077);
    try {
      this.db = new Database(path, { create: true, strict: true });
    } finally {
      process.umask(umask);
    }
    this.db.run('PRAGMA journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a crash of the process; only power loss can lose the last ones.
    this.db.run('PRAGMA synchronous = NORMAL');
    this.db.run('PRAGMA busy_timeout = 5000');
    this.migrate();
    this.insert = this.db.prepare('INSERT INTO messages (id, recipient, sender, sent_at, body) VALUES (?, ?, ?, ?, ?)');
    this.deleteOne = this.db.prepare('DELETE FROM messages WHERE recipient = ? AND id = ?');
    this.selectFor = this.db.prepare('SELECT id, sender, recipient, sent_at, body FROM messages WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?');
    this.usageStmt = this.db.prepare('SELECT count(*) AS n, sum(length(CAST(body AS BLOB))) AS bytes FROM messages WHERE recipient = ?');
    this.countForStmt = this.db.prepare('SELECT count(*) AS n FROM messages WHERE recipient = ?');
    this.commitTx = this.db.transaction((inserts: readonly StoredMessage[], acks: readonly Ack[]) => {
      for (const m of inserts) this.insert.run(m.id, m.to, m.from, m.at, m.body);
      for (const a of acks) for (const id of a.ids) this.deleteOne.run(a.user, id);
    });
  }

  private migrate(): void {
    const { user_version: version } = this.db.query('PRAGMA user_version').get() as { user_version: number };
    if (version > SCHEMA_VERSION) {
      throw new Error(`the database has schema version ${version}, newer than this program's ${SCHEMA_VERSION}`);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.run(MIGRATIONS[v] as string);
        this.db.run(`PRAGMA user_version = ${v + 1}`);
      })();
    }
  }

  commit(inserts: readonly StoredMessage[], acks: readonly Ack[]): void {
    if (inserts.length > 0 || acks.length > 0) this.commitTx(inserts, acks);
  }

  messagesFor(user: string, afterId = 0, limit = Infinity): StoredMessage[] {
    return this.selectFor.all(user, afterId, Number.isFinite(limit) ? limit : -1).map((r) => ({ id: r.id, from: r.sender, to: r.recipient, at: r.sent_at, body: r.body }));
  }

  countFor(user: string): number {
    return this.countForStmt.get(user)?.n ?? 0;
  }

  forgetUser(user: string): void {
    this.db.transaction(() => {
      this.db.run('DELETE FROM messages WHERE recipient = ?', [user]);
      this.db.run('DELETE FROM blocks WHERE blocker = ?', [user]);
    })();
  }

  usageFor(user: string): { count: number; bytes: number } {
    const row = this.usageStmt.get(user);
    return { count: row?.n ?? 0, bytes: row?.bytes ?? 0 };
  }

  blocks(): [string, string][] {
    return this.db.query<{ blocker: string; blocked: string }, []>('SELECT blocker, blocked FROM blocks').all().map((r) => [r.blocker, r.blocked]);
  }

  addBlock(blocker: string, blocked: string): void {
    this.db.run('INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES (?, ?)', [blocker, blocked]);
  }

  removeBlock(blocker: string, blocked: string): void {
    this.db.run('DELETE FROM blocks WHERE blocker = ? AND blocked = ?', [blocker, blocked]);
  }

  reserveIds(count: number): number {
    return this.db.transaction(() => {
      const row = this.db.query<{ value: number }, []>("SELECT value FROM meta WHERE key = 'next_id'").get();
      const maxStored = this.db.query<{ m: number | null }, []>('SELECT max(id) AS m FROM messages').get()?.m ?? 0;
      const first = Math.max(row?.value ?? 1, maxStored + 1);
      this.db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_id', ?)", [first + count]);
      return first;
    })();
  }

  instanceId(): number {
    return this.db.transaction(() => {
      const row = this.db.query<{ value: number }, []>("SELECT value FROM meta WHERE key = 'instance'").get();
      if (row) return row.value;
      const [high = 0, low = 0] = crypto.getRandomValues(new Uint32Array(2));
      const id = (high & 0x1fffff) * 2 ** 32 + low;
      this.db.run("INSERT INTO meta (key, value) VALUES ('instance', ?)", [id]);
      return id;
    })();
  }

  close(): void {
    this.db.close();
  }
}

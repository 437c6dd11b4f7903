// The AsyncStore on PostgreSQL through Bun.sql, shared by every node of a cluster. Every write is one
// transaction; a lost connection becomes a StoreUnavailableError the caller retries. Bun.sql returns
// bigint columns as strings (turned back into numbers here: ids stay below 2^53). A statement takes
// at most 65,535 parameters, so batches go in as one array parameter per column (unnest): any size,
// one round trip.

import { SQL } from 'bun';
import { nameKeys } from '../protocol/usernames.ts';
import { StoreUnavailableError, type Account, type Ack, type AsyncStore, type OriginMessage, type StoredMessage } from './async-store.ts';

/** Thrown inside addAccount's transaction to roll it back. */
class LookAlike extends Error {}

/** Schema changes, in order; `chat_schema` records which have been applied. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
   INSERT INTO meta (key, value) VALUES ('next_id', 1), ('instance', floor(random() * 2^53)::bigint);
   CREATE TABLE accounts (
     name       text PRIMARY KEY,
     secret     text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE messages (
     id        bigint PRIMARY KEY,
     recipient text   NOT NULL,
     sender    text   NOT NULL,
     sent_at   bigint NOT NULL,
     body      text   NOT NULL
   );
   CREATE INDEX messages_by_recipient ON messages (recipient, id);
   -- Every origin key ever stored, so that storing a message again after it was delivered and
   -- removed does not bring it back.
   CREATE TABLE origins (origin text PRIMARY KEY, stored_at bigint NOT NULL);
   CREATE TABLE blocks (
     blocker text NOT NULL,
     blocked text NOT NULL,
     PRIMARY KEY (blocker, blocked)
   );`,
  // SEC-3 across nodes: the keys under which two names count as the same (protocol/usernames.ts,
  // nameKeys: case fold and look-alike skeleton), each held by the first account that had it. A new
  // name whose key is held is refused, in the same transaction that adds it. Filled by the program
  // (the skeletons are computed there): fillNameKeys() at every start catches up older accounts.
  `CREATE TABLE name_keys (
     key  text PRIMARY KEY,
     name text NOT NULL
   );`,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Any key for the advisory lock that serialises migrations of nodes starting together. */
const MIGRATION_LOCK = 0x63686174; // "chat"

/** Bun's own codes for a connection that failed or went away. */
const CONNECTION_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
]);

/**
 * SQLSTATEs that mean "try again": connection exceptions (class 08), the server shutting down or
 * starting up (57P01-57P03), too many connections, serialisation failures and deadlocks.
 */
function retryableState(state: string): boolean {
  return state.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '40001', '40P01'].includes(state);
}

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || /^E(CONN|PIPE|HOSTUNREACH|NETUNREACH)/.test(code))) return true;
  return typeof errno === 'string' && retryableState(errno);
}

interface MessageRow {
  id: string;
  sender: string;
  recipient: string;
  sent_at: string;
  body: string;
}

export interface PostgresStoreOptions {
  /** Connections in the pool. */
  max?: number;
  /** A call that takes longer fails with StoreUnavailableError (it may still commit: retry with storeOnce). */
  timeoutMs?: number;
}

export class PostgresStore implements AsyncStore {
  private instance: number | undefined;

  private constructor(
    private readonly sql: SQL,
    private readonly timeoutMs: number,
  ) {}

  /** Connects to `url`, creating or migrating the schema; fails with StoreUnavailableError when unreachable. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = new SQL({ url, max: options.max ?? 4, connectionTimeout: 5, onclose: () => {} });
    const store = new PostgresStore(sql, options.timeoutMs ?? 10_000);
    try {
      await store.run('migrate the database', () => store.migrate());
      await store.run('index the account names', () => store.fillNameKeys());
    } catch (error) {
      await sql.close({ timeout: 0 }).catch(() => {});
      throw error;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS chat_schema (version integer PRIMARY KEY)`;
      const [row] = await tx<{ v: number | null }[]>`SELECT max(version) AS v FROM chat_schema`;
      const version = row?.v ?? 0;
      if (version > POSTGRES_SCHEMA_VERSION) {
        throw new Error(`the database has schema version ${version}, newer than this program's ${POSTGRES_SCHEMA_VERSION}`);
      }
      for (let v = version; v < POSTGRES_SCHEMA_VERSION; v++) {
        await tx.unsafe(MIGRATIONS[v] as string);
        await tx`INSERT INTO chat_schema (version) VALUES (${v + 1})`;
      }
    });
  }

  /** Gives every account without name keys its keys (accounts from before the name_keys table); the first holder of a key keeps it. */
  private async fillNameKeys(): Promise<void> {
    const rows = await this.sql<{ name: string }[]>`SELECT name FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM name_keys k WHERE k.name = a.name) ORDER BY created_at, name`;
    await this.insertNameKeys(this.sql, rows.map((r) => r.name));
  }

  /** Inserts the keys of `names` that no account holds yet; resolves with how many were inserted. */
  private async insertNameKeys(sql: SQL, names: readonly string[]): Promise<number> {
    if (names.length === 0) return 0;
    const pairs = names.flatMap((name) => nameKeys(name).map((key) => [key, name] as const));
    const rows = await sql`
      INSERT INTO name_keys (key, name)
      SELECT * FROM unnest(${sql.array(pairs.map(([k]) => k), 'TEXT')}::text[], ${sql.array(pairs.map(([, n]) => n), 'TEXT')}::text[])
      ON CONFLICT (key) DO NOTHING
      RETURNING key`;
    return rows.length;
  }

  /** Runs one operation; connection failures and timeouts become StoreUnavailableError. */
  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(operation, { cause: new Error(`no answer in ${this.timeoutMs} ms`) })), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      if (isConnectionFailure(error)) throw new StoreUnavailableError(operation, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  commit(inserts: readonly StoredMessage[], acks: readonly Ack[], options: { again?: boolean } = {}): Promise<void> {
    if (inserts.length === 0 && acks.length === 0) return Promise.resolve();
    return this.run('store messages', () =>
      this.sql.begin(async (tx) => {
        if (inserts.length > 0) {
          const m = columns(inserts);
          // Tried again after an unknown outcome: what the earlier try stored stays, once.
          const again = options.again ? tx`ON CONFLICT (id) DO NOTHING` : tx``;
          await tx`INSERT INTO messages (id, recipient, sender, sent_at, body)
            SELECT * FROM unnest(${tx.array(m.id, 'INT8')}::bigint[], ${tx.array(m.to, 'TEXT')}::text[], ${tx.array(m.from, 'TEXT')}::text[],
                                 ${tx.array(m.at, 'INT8')}::bigint[], ${tx.array(m.body, 'TEXT')}::text[]) ${again}`;
        }
        if (acks.some((a) => a.ids.length > 0)) {
          const users = acks.flatMap((a) => a.ids.map(() => a.user));
          const ids = acks.flatMap((a) => a.ids);
          await tx`DELETE FROM messages m
            USING unnest(${tx.array(users, 'TEXT')}::text[], ${tx.array(ids, 'INT8')}::bigint[]) AS a(recipient, id)
            WHERE m.recipient = a.recipient AND m.id = a.id`;
        }
      }),
    );
  }

  storeOnce(messages: readonly OriginMessage[]): Promise<number> {
    const unique = [...new Map(messages.map((m) => [m.origin, m])).values()];
    if (unique.length === 0) return Promise.resolve(0);
    const m = columns(unique);
    const origins = unique.map((u) => u.origin);
    // One statement, so atomic without a transaction: the origins not seen before, then their messages.
    return this.run('store messages', async () => {
      const [row] = await this.sql<{ n: string }[]>`
        WITH fresh AS (
          INSERT INTO origins (origin, stored_at)
          SELECT * FROM unnest(${this.sql.array(origins, 'TEXT')}::text[], ${this.sql.array(m.at, 'INT8')}::bigint[])
          ON CONFLICT (origin) DO NOTHING
          RETURNING origin
        ), stored AS (
          INSERT INTO messages (id, recipient, sender, sent_at, body)
          SELECT n.id, n.recipient, n.sender, n.sent_at, n.body
          FROM unnest(${this.sql.array(m.id, 'INT8')}::bigint[], ${this.sql.array(m.to, 'TEXT')}::text[], ${this.sql.array(m.from, 'TEXT')}::text[],
                      ${this.sql.array(m.at, 'INT8')}::bigint[], ${this.sql.array(m.body, 'TEXT')}::text[], ${this.sql.array(origins, 'TEXT')}::text[])
               AS n(id, recipient, sender, sent_at, body, origin)
          JOIN fresh USING (origin)
          RETURNING 1
        )
        SELECT count(*) AS n FROM stored`;
      return Number(row?.n ?? 0);
    });
  }

  messagesFor(user: string, afterId = 0, limit = Infinity): Promise<StoredMessage[]> {
    return this.run('read stored messages', async () => {
      // LIMIT NULL is no limit.
      const max = Number.isFinite(limit) ? limit : null;
      const rows = await this.sql<MessageRow[]>`SELECT id, sender, recipient, sent_at, body FROM messages
        WHERE recipient = ${user} AND id > ${afterId} ORDER BY id LIMIT ${max}`;
      return rows.map((r) => ({ id: Number(r.id), from: r.sender, to: r.recipient, at: Number(r.sent_at), body: r.body }));
    });
  }

  usageFor(user: string): Promise<{ count: number; bytes: number }> {
    return this.run('count stored messages', async () => {
      const [row] = await this.sql<{ n: string; bytes: string | null }[]>`
        SELECT count(*) AS n, sum(octet_length(body)) AS bytes FROM messages WHERE recipient = ${user}`;
      return { count: Number(row?.n ?? 0), bytes: Number(row?.bytes ?? 0) };
    });
  }

  forgetUser(user: string): Promise<void> {
    return this.run('forget an earlier holder of a name', async () => {
      await this.sql.begin(async (tx) => {
        await tx`DELETE FROM messages WHERE recipient = ${user}`;
        await tx`DELETE FROM blocks WHERE blocker = ${user}`;
      });
    });
  }

  countFor(user: string): Promise<number> {
    return this.run('count stored messages', async () => {
      const [row] = await this.sql<{ n: string }[]>`SELECT count(*) AS n FROM messages WHERE recipient = ${user}`;
      return Number(row?.n ?? 0);
    });
  }

  blocks(): Promise<[string, string][]> {
    return this.run('read blocks', async () => {
      const rows = await this.sql<{ blocker: string; blocked: string }[]>`SELECT blocker, blocked FROM blocks`;
      return rows.map((r): [string, string] => [r.blocker, r.blocked]);
    });
  }

  addBlock(blocker: string, blocked: string): Promise<void> {
    return this.run('store a block', async () => {
      await this.sql`INSERT INTO blocks (blocker, blocked) VALUES (${blocker}, ${blocked}) ON CONFLICT DO NOTHING`;
    });
  }

  removeBlock(blocker: string, blocked: string): Promise<void> {
    return this.run('remove a block', async () => {
      await this.sql`DELETE FROM blocks WHERE blocker = ${blocker} AND blocked = ${blocked}`;
    });
  }

  reserveIds(count: number): Promise<number> {
    return this.run('reserve message ids', async () => {
      // One statement: the row lock makes concurrent reservations (from any node) take turns.
      const [row] = await this.sql<{ first: string }[]>`
        UPDATE meta SET value = greatest(value, (SELECT coalesce(max(id), 0) + 1 FROM messages)) + ${count}
        WHERE key = 'next_id' RETURNING value - ${count} AS first`;
      if (!row) throw new Error('the id sequence is missing from the database');
      return Number(row.first);
    });
  }

  instanceId(): Promise<number> {
    if (this.instance !== undefined) return Promise.resolve(this.instance);
    return this.run('read the instance id', async () => {
      const [row] = await this.sql<{ value: string }[]>`SELECT value FROM meta WHERE key = 'instance'`;
      if (!row) throw new Error('the instance id is missing from the database');
      return (this.instance = Number(row.value));
    });
  }

  accounts(): Promise<Account[]> {
    return this.run('read accounts', async () => {
      const rows = await this.sql<Account[]>`SELECT name, secret FROM accounts`;
      return rows.map((r) => ({ name: r.name, secret: r.secret }));
    });
  }

  account(name: string): Promise<string | undefined> {
    return this.run('read an account', async () => {
      const [row] = await this.sql<{ secret: string }[]>`SELECT secret FROM accounts WHERE name = ${name}`;
      return row?.secret;
    });
  }

  seedAccounts(accounts: readonly Account[]): Promise<number> {
    if (accounts.length === 0) return Promise.resolve(0);
    return this.run('seed accounts', async () => {
      const added = await this.sql`
        INSERT INTO accounts (name, secret)
        SELECT * FROM unnest(${this.sql.array(accounts.map((a) => a.name), 'TEXT')}::text[], ${this.sql.array(accounts.map((a) => a.secret), 'TEXT')}::text[])
        ON CONFLICT (name) DO NOTHING
        RETURNING name`;
      await this.insertNameKeys(this.sql, added.map((r: { name: string }) => r.name));
      return added.length;
    });
  }

  addAccount(account: Account): Promise<boolean> {
    return this.run('register an account', () =>
      this.sql.begin(async (tx) => {
        const rows = await tx`INSERT INTO accounts (name, secret) VALUES (${account.name}, ${account.secret}) ON CONFLICT (name) DO NOTHING RETURNING name`;
        if (rows.length === 0) return false;
        // A key already held means a name too much like this one exists (SEC-3): nothing is added.
        // Two look-alikes registered at once on two nodes: the second insert waits for the first commit.
        if ((await this.insertNameKeys(tx, [account.name])) === nameKeys(account.name).length) return true;
        throw new LookAlike();
      }).catch((error: unknown) => {
        if (error instanceof LookAlike) return false;
        throw error;
      }),
    );
  }

  similarAccount(name: string): Promise<string | undefined> {
    return this.run('look for a similar name', async () => {
      const [row] = await this.sql<{ name: string }[]>`SELECT name FROM name_keys WHERE key = ANY(${this.sql.array(nameKeys(name), 'TEXT')}::text[]) AND name <> ${name} LIMIT 1`;
      return row?.name;
    });
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 1 }).catch(() => {});
  }
}

/** Messages as one array per column: whole batches go in as a few array parameters (unnest). */
function columns(messages: readonly StoredMessage[]) {
  return {
    id: messages.map((m) => m.id),
    to: messages.map((m) => m.to),
    from: messages.map((m) => m.from),
    at: messages.map((m) => m.at),
    body: messages.map((m) => m.body),
  };
}

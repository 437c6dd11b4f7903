// The store as several nodes need it: every call returns a promise (PostgreSQL is across a network),
// plus what a cluster shares through its database — accounts, a message stored once per origin key
// whoever stores it, id blocks from one sequence, one instance id. Knows nothing of SQL; the
// implementations are postgres-store.ts and sqlite-async-store.ts (the single node's SqliteStore).

import type { Ack, StoredMessage } from './store.ts';

export type { Ack, StoredMessage } from './store.ts';

/** A message with the key of its origin (`<node>:<seq>`), unique across the cluster and for ever. */
export interface OriginMessage extends StoredMessage {
  readonly origin: string;
}

/** An account: a name and its secret as the credentials file holds it (plain or hashed). */
export interface Account {
  readonly name: string;
  readonly secret: string;
}

export interface AsyncStore {
  /**
   * Inserts messages and applies acks in one durable transaction; resolves after the commit.
   * `again`: the same batch is being tried again after a StoreUnavailableError, and the earlier try
   * may have committed without its answer arriving: a message already stored under its id is that
   * same message and is kept as it is (ids are never handed out twice). Without it, an id stored
   * before fails the whole commit.
   */
  commit(inserts: readonly StoredMessage[], acks: readonly Ack[], options?: { again?: boolean }): Promise<void>;
  /**
   * Stores each message unless one with the same origin key was ever stored before (even if it has
   * since been delivered and removed), in one transaction; resolves with how many were new. Safe
   * to retry after any failure, so a node that is unsure whether a store committed stores again.
   */
  storeOnce(messages: readonly OriginMessage[]): Promise<number>;
  /** The stored messages for `user` with ids above `afterId`, oldest (lowest id) first, at most `limit` of them (SEC-6: pages). */
  messagesFor(user: string, afterId?: number, limit?: number): Promise<StoredMessage[]>;
  countFor(user: string): Promise<number>;
  /** How many messages wait for `user` and the UTF-8 bytes of their texts (SEC-6: the quota). */
  usageFor(user: string): Promise<{ count: number; bytes: number }>;
  /**
   * A new account takes `user`, a name that had none (SEC-4): the messages stored for an earlier
   * holder of the name and its block list are deleted, never handed to the newcomer.
   */
  forgetUser(user: string): Promise<void>;
  /** Every block as [blocker, blocked]. */
  blocks(): Promise<[string, string][]>;
  addBlock(blocker: string, blocked: string): Promise<void>;
  removeBlock(blocker: string, blocked: string): Promise<void>;
  /**
   * Reserves `count` message ids that nobody (no node, no earlier run) was handed and returns the
   * first: every node takes its blocks from the same sequence.
   */
  reserveIds(count: number): Promise<number>;
  /** Made once when the database is created; the same for every node that shares it. */
  instanceId(): Promise<number>;
  /** Every account, in no particular order. */
  accounts(): Promise<Account[]>;
  /** The secret of one account, or undefined when the name has none (a registration on another node shows here at once). */
  account(name: string): Promise<string | undefined>;
  /**
   * Adds the accounts whose names are not taken yet (the credentials file seeding the database);
   * an account that exists keeps its secret. Resolves with how many were added. Seeded names are
   * not judged by SEC-3, but new names are judged against them.
   */
  seedAccounts(accounts: readonly Account[]): Promise<number>;
  /**
   * Registers one account; false (and nothing changed) when the name is taken, or a name too much
   * like it (the same nameKeys(): case, look-alike letters; SEC-3) is, even one added a moment ago
   * on another node.
   */
  addAccount(account: Account): Promise<boolean>;
  /** An account whose name looks like `name` (shares one of its nameKeys()), other than `name` itself. */
  similarAccount(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * The store could not be reached (or lost the connection, or was shutting down). The operation may
 * be retried: nothing it would have committed is assumed to be committed, and `storeOnce`, acks and
 * block changes are safe to repeat.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'STORE_UNAVAILABLE';
  constructor(operation: string, options: { cause: unknown }) {
    super(`Cannot ${operation}: the store is unavailable (${describe(options.cause)})`, options);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return (error as { code?: string }).code ?? error.message;
  return String(error);
}

/** Whether `error` means the operation can be tried again. */
export function isRetryable(error: unknown): error is StoreUnavailableError {
  return error instanceof StoreUnavailableError;
}

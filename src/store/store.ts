// What the server keeps across restarts: offline messages, block lists, the message-id counter.
// The interface knows nothing of SQL; sqlite-store.ts is the implementation.

export interface StoredMessage {
  /**
   * The message's key (CLU-3): the id first stamped on it when a server accepted it, for ever the
   * same, and the stored row's id. The id a connection is written is stamped at write time.
   */
  readonly id: number;
  readonly from: string;
  readonly to: string;
  /** Milliseconds since the epoch, when the server accepted it. */
  readonly at: number;
  readonly body: string;
}

/** `user` acknowledged the stored messages with these keys (their stored ids): they go. */
export interface Ack {
  readonly user: string;
  readonly ids: readonly number[];
}

export interface Store {
  /** Inserts messages and applies acks in one durable transaction (group commit). */
  commit(inserts: readonly StoredMessage[], acks: readonly Ack[]): void;
  /** The stored messages for `user` with ids (keys) above `afterId`, in key order, at most `limit` of them (SEC-6: pages). */
  messagesFor(user: string, afterId?: number, limit?: number): StoredMessage[];
  /** How many messages wait for `user`. */
  countFor(user: string): number;
  /** How many messages wait for `user` and the UTF-8 bytes of their texts (SEC-6: the quota). */
  usageFor(user: string): { count: number; bytes: number };
  /**
   * A new account takes `user`, a name that had none (SEC-4): what was kept for an earlier holder
   * of the name (messages stored for it, its block list) is deleted, never handed to the newcomer.
   */
  forgetUser(user: string): void;
  /** Every block as [blocker, blocked]. */
  blocks(): [string, string][];
  addBlock(blocker: string, blocked: string): void;
  removeBlock(blocker: string, blocked: string): void;
  /**
   * Reserves `count` message ids that no earlier run handed out and returns the first.
   * Ids only grow, across restarts and crashes, so clients can drop duplicates by id.
   */
  reserveIds(count: number): number;
  /**
   * A random number made when the database was created: it tells clients which server's ids
   * they are keeping track of (ids start again with a new database).
   */
  instanceId(): number;
  close(): void;
}

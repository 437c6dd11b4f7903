// The single node's Store (bun:sqlite) seen through the AsyncStore interface, so that one server
// core runs on either. A single node shares nothing: its accounts live in the credentials file (the
// server appends there) and are mirrored here in memory, and origin keys only ever meet retries
// within the process, so they are remembered in memory too.

import { nameKeys } from '../protocol/usernames.ts';
import type { Account, Ack, AsyncStore, OriginMessage, StoredMessage } from './async-store.ts';
import type { Store } from './store.ts';

export class SqliteAsyncStore implements AsyncStore {
  private readonly origins = new Set<string>();
  private readonly accountSecrets = new Map<string, string>();
  /** nameKeys() of the accounts -> the name that holds each (SEC-3). */
  private readonly nameKeys = new Map<string, string>();

  constructor(private readonly store: Store) {}

  /** `again` never comes: SQLite, in this process, has no unknown outcomes (nor retryable errors). */
  async commit(inserts: readonly StoredMessage[], acks: readonly Ack[]): Promise<void> {
    this.store.commit(inserts, acks);
  }

  async storeOnce(messages: readonly OriginMessage[]): Promise<number> {
    const fresh = [...new Map(messages.map((m) => [m.origin, m])).values()].filter((m) => !this.origins.has(m.origin));
    this.store.commit(
      fresh.map(({ origin: _, ...m }) => m),
      [],
    );
    for (const m of fresh) this.origins.add(m.origin);
    return fresh.length;
  }

  async messagesFor(user: string, afterId?: number, limit?: number): Promise<StoredMessage[]> {
    return this.store.messagesFor(user, afterId, limit);
  }

  async usageFor(user: string): Promise<{ count: number; bytes: number }> {
    return this.store.usageFor(user);
  }

  async forgetUser(user: string): Promise<void> {
    this.store.forgetUser(user);
  }

  async countFor(user: string): Promise<number> {
    return this.store.countFor(user);
  }

  async blocks(): Promise<[string, string][]> {
    return this.store.blocks();
  }

  async addBlock(blocker: string, blocked: string): Promise<void> {
    this.store.addBlock(blocker, blocked);
  }

  async removeBlock(blocker: string, blocked: string): Promise<void> {
    this.store.removeBlock(blocker, blocked);
  }

  async reserveIds(count: number): Promise<number> {
    return this.store.reserveIds(count);
  }

  async instanceId(): Promise<number> {
    return this.store.instanceId();
  }

  async accounts(): Promise<Account[]> {
    return [...this.accountSecrets].map(([name, secret]) => ({ name, secret }));
  }

  async account(name: string): Promise<string | undefined> {
    return this.accountSecrets.get(name);
  }

  async seedAccounts(accounts: readonly Account[]): Promise<number> {
    let added = 0;
    for (const a of accounts) {
      if (this.accountSecrets.has(a.name)) continue;
      this.accountSecrets.set(a.name, a.secret);
      // The first holder of a key keeps it.
      for (const key of nameKeys(a.name)) if (!this.nameKeys.has(key)) this.nameKeys.set(key, a.name);
      added++;
    }
    return added;
  }

  async addAccount(account: Account): Promise<boolean> {
    if (this.accountSecrets.has(account.name) || (await this.similarAccount(account.name)) !== undefined) return false;
    return (await this.seedAccounts([account])) === 1;
  }

  async similarAccount(name: string): Promise<string | undefined> {
    return nameKeys(name)
      .map((key) => this.nameKeys.get(key))
      .find((other) => other !== undefined && other !== name);
  }

  async close(): Promise<void> {
    this.store.close();
  }
}

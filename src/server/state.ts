// All server state in one place. Handlers reach it through their context, never through globals,
// so every test builds its own. Nothing here knows about sockets.

import { nameKeys } from '../protocol/usernames.ts';
import type { Accounts } from './accounts.ts';
import type { AsyncStore } from '../store/async-store.ts';
import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { TimerWheel } from '../util/timer-wheel.ts';
import { FailureBans, LogThrottle, WindowCounter } from './address-limits.ts';
import { OfflineQueue } from './offline-queue.ts';
import { HASH_CONCURRENCY, HASH_QUEUE, JobQueue } from './passwords.ts';
import { PresenceQueue } from './presence.ts';
import type { PrivateRequest } from './private.ts';
import type { Conn } from './connection.ts';
import type { Delivery } from './delivery.ts';
import type { SharedLockout } from './shared-lockout.ts';
import { LocalDelivery } from './local-delivery.ts';
import type { Session } from './session.ts';

export interface ServerConfig {
  /** AUTH-4: how long three wrong passwords lock a username. */
  readonly blockDurationMs: number;
  /** SESS-1: inactivity before the server logs a user out. */
  readonly timeoutMs: number;
  /** AUTH-3: whether unknown usernames may register. */
  readonly register: boolean;
  /** P2P-2: how long a private-chat request waits for an answer. */
  readonly privateRequestMs: number;
  /** A routed message not acknowledged this long is stored, so its sender can be told it is safe. */
  readonly ackTimeoutMs: number;
  /** Bytes a connection may have queued for it before it is cut off as a slow reader. */
  readonly outboxLimit: number;
  /** Connections open at once, in total and from one address (0: no cap). */
  readonly maxConnections: number;
  readonly maxPerAddress: number;
  /** A connection must log in within this long (slowloris). */
  readonly loginTimeoutMs: number;
  /** Commands a second per connection on average (0: no limit); bursts of five times that. */
  readonly rateLimit: number;
  /** Connections kept for users who log in: strangers (not logged in) may hold at most maxConnections minus this (SEC-2). */
  readonly reservedConnections: number;
  /** With TLS: a connection must finish its handshake within this long of the TCP accept (SEC-5). */
  readonly handshakeTimeoutMs: number;
  /** Failed logins from one address (IPv6: its /64) in 10 minutes that ban it (0: no ban) (SEC-2). */
  readonly maxAuthFailures: number;
  /** The first ban's length; each ban within a day of the last lasts twice as long, up to a day. */
  readonly banMs: number;
  /** Password checks one address may have running or waiting at once (SEC-2, a fair share). */
  readonly checksPerAddress: number;
  /** New accounts per address, and in total, in `registrationWindowMs` (0: no limit) (SEC-2). */
  readonly registrationsPerAddress: number;
  readonly registrationsTotal: number;
  readonly registrationWindowMs: number;
  /** Messages and bytes (of text) that may wait for one offline user (0: no limit) (SEC-6). */
  readonly offlineQuotaMessages: number;
  readonly offlineQuotaBytes: number;
  /** Stored messages sent at a login before the client must acknowledge them for more (SEC-6). */
  readonly backlogPage: number;
  /** At a stop, how long storing what is not yet safe is tried while the store is unreachable. */
  readonly shutdownStoreMs: number;
}

export const DEFAULT_CONFIG: Omit<ServerConfig, 'blockDurationMs' | 'timeoutMs'> = {
  register: true,
  privateRequestMs: 60_000,
  ackTimeoutMs: 10_000,
  shutdownStoreMs: 10_000,
  outboxLimit: 4 * 1024 * 1024,
  maxConnections: 10_000,
  maxPerAddress: 100,
  loginTimeoutMs: 60_000,
  rateLimit: 20,
  reservedConnections: 1000,
  handshakeTimeoutMs: 10_000,
  maxAuthFailures: 20,
  banMs: 10 * 60_000,
  checksPerAddress: 8,
  registrationsPerAddress: 10,
  registrationsTotal: 500,
  registrationWindowMs: 3600_000,
  offlineQuotaMessages: 1000,
  offlineQuotaBytes: 1024 * 1024,
  backlogPage: 200,
};

export type Logger = (line: string) => void;

/**
 * Hands out message ids from blocks reserved in the store, so ids never repeat after a crash (and,
 * in a cluster, no two nodes hand out the same one). `take()` stays synchronous for the hot path:
 * the next block is reserved ahead, while the current one is in use.
 */
export class IdAllocator {
  private next = 0;
  private end = 0;
  private spare: number | undefined;
  private refilling = false;
  /** The id take() returned last, until a renew() moves on. */
  private last: number | undefined;
  constructor(
    private readonly store: AsyncStore,
    private readonly log: Logger = () => {},
    private readonly batch = 100_000,
  ) {}

  /** Reserves the first block (and asks for the spare); run once before serving. */
  async start(): Promise<void> {
    this.next = await this.store.reserveIds(this.batch);
    this.end = this.next + this.batch;
    this.refill();
  }

  take(): number {
    if (this.next >= this.end) {
      if (this.spare === undefined) {
        this.refill();
        throw new ChatError(ErrorCode.Busy, 'The server is reserving message ids; try again in a moment');
      }
      this.next = this.spare;
      this.end = this.spare + this.batch;
      this.spare = undefined;
      this.refill();
    }
    this.last = this.next;
    return this.next++;
  }

  /**
   * The id to write the message with key `key` to a connection (CLU-3): its key when that is the
   * id handed out last (it is written in the turn it was accepted: nothing written anywhere since
   * has a higher id), else a fresh one. Either way above every id this node wrote before.
   */
  stamp(key: number): number {
    return key === this.last ? key : this.take();
  }

  /**
   * Moves on to a block reserved now, above every id any node has handed out so far. Run before a
   * login when the store is shared: the user may have seen higher ids on another node, and the
   * client drops any id at or below the highest it has shown (CLUSTER.md, "Ids must grow per
   * connection").
   */
  async renew(): Promise<void> {
    const first = await this.store.reserveIds(this.batch);
    if (first > this.next) {
      this.last = undefined;
      this.next = first;
      this.end = first + this.batch;
    }
    if (this.spare !== undefined && this.spare < this.end) this.spare = undefined;
    this.refill();
  }

  private refill(): void {
    if (this.refilling || this.spare !== undefined) return;
    this.refilling = true;
    this.store.reserveIds(this.batch).then(
      (first) => {
        this.refilling = false;
        // A block reserved before a renew() may lie below the current one: ids must only grow.
        if (first >= this.end) this.spare = first;
        else this.refill();
      },
      (err: unknown) => {
        // Tried again at the next take() that needs it.
        this.refilling = false;
        this.log(`cannot reserve message ids: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }
}

/** What a server reads from its store before serving. */
export interface StoreBoot {
  /** The database's instance id (AsyncStore.instanceId). */
  readonly instance: number;
  /** Every block as [blocker, blocked]. */
  readonly blocks: readonly [string, string][];
}

export class ServerState {
  /** Online users by name. */
  readonly sessions = new Map<string, Session>();
  /** Consecutive wrong passwords per username (AUTH-4); cleared by a login or a lockout. */
  readonly failures = new Map<string, number>();
  /** Password checks running per username, and the guesses waiting for one of its strikes (SEC-1). */
  readonly strikes = new Map<string, { checking: number; waiters: (() => void)[] }>();
  /** Usernames locked until the given time (AUTH-4); each entry is removed by a wheel timer. */
  readonly lockedUntil = new Map<string, number>();
  /**
   * nameKeys() of every account -> its name: a new name may not share a key (SEC-3, case and
   * look-alikes). Built at the first registration, not at start: only registrations read it, and
   * building it for 19,000 accounts took ~5.5 MiB of RSS (the keys and the garbage of computing them).
   */
  private nameIndex: Map<string, string> | undefined;
  /** Stored messages and their bytes per offline user, once counted (SEC-6 quota); dropped at an ack. */
  readonly mailboxes = new Map<string, { count: number; bytes: number }>();
  /** Failed logins per address and the bans they led to (SEC-2). */
  readonly bans: FailureBans;
  /** Log lines of events that come in floods (refused connections, deadlines), one a minute per kind and address. */
  readonly logThrottle = new LogThrottle();
  /** Registrations per address and in total, in the last registrationWindowMs (SEC-2). */
  readonly registrations: WindowCounter;
  readonly allRegistrations: WindowCounter;
  /** When each user now offline was last online; only since the server started (PRES-3). */
  readonly lastSeen = new Map<string, number>();
  /** blocker -> the users they block (BLK-*); mirrors the store. */
  readonly blocks = new Map<string, Set<string>>();
  /** Open connections, logged in or not, and how many come from each address. */
  connections = 0;
  readonly perAddress = new Map<string, number>();
  /** Open connections not logged in, oldest first (the reserve for users, SEC-2). */
  readonly strangers = new Set<Conn>();
  /** Private-chat requests waiting for an answer, by requestKey(from, to) (P2P-2). */
  readonly privateRequests = new Map<string, PrivateRequest>();
  readonly wheel: TimerWheel;
  readonly offline: OfflineQueue;
  /** Logins and logouts waiting to be announced (PRES-1), sent in batches. */
  readonly presence: PresenceQueue;
  /** Password hashing and verifying, a bounded number at a time. */
  readonly hashing: JobQueue;
  readonly ids: IdAllocator;
  /** How handlers reach other users: this process's sessions, or a cluster's (delivery.ts). */
  delivery: Delivery;
  readonly startedAt: number;
  /** The database's instance id (AsyncStore.instanceId), told to clients at login. */
  readonly instance: number;
  /**
   * The store is shared with other nodes (PostgreSQL): accounts registered elsewhere are looked up
   * there, and id blocks are renewed at each login.
   */
  sharedStore = false;
  /** In a cluster: wrong-password strikes and lockouts counted once for every node (CLU-2); else `failures`/`lockedUntil`. */
  lockout: SharedLockout | undefined;
  /** In a cluster: false while this node may have lost its lease (CLU-5); the dispatcher then acts on nothing. */
  mayServe: () => boolean = () => true;

  constructor(
    readonly config: ServerConfig,
    readonly store: AsyncStore,
    /** username -> password or password hash, from the credentials file plus registrations. */
    readonly accounts: Accounts,
    readonly clock: () => number = Date.now,
    readonly log: Logger = () => {},
    /** Arranges an end-of-turn flush (the server's TurnFlusher); tests flush by hand. */
    requestFlush: () => void = () => {},
    boot: StoreBoot = { instance: 0, blocks: [] },
  ) {
    this.startedAt = clock();
    this.hashing = new JobQueue(HASH_CONCURRENCY, HASH_QUEUE, config.checksPerAddress);
    this.bans = new FailureBans(config.maxAuthFailures, config.banMs);
    this.registrations = new WindowCounter(config.registrationsPerAddress, config.registrationWindowMs);
    this.allRegistrations = new WindowCounter(config.registrationsTotal, config.registrationWindowMs);
    this.wheel = new TimerWheel(this.startedAt);
    this.offline = new OfflineQueue(store, requestFlush, log);
    this.presence = new PresenceQueue(requestFlush);
    this.ids = new IdAllocator(store, log);
    this.delivery = new LocalDelivery(this);
    this.instance = boot.instance;
    for (const [blocker, blocked] of boot.blocks) this.blockSet(blocker).add(blocked);
  }

  /** A state whose instance id, blocks and first ids are read from `store` (what a real server uses). */
  static async open(
    config: ServerConfig,
    store: AsyncStore,
    accounts: Accounts,
    clock: () => number = Date.now,
    log: Logger = () => {},
    requestFlush: () => void = () => {},
  ): Promise<ServerState> {
    const boot = { instance: await store.instanceId(), blocks: await store.blocks() };
    const state = new ServerState(config, store, accounts, clock, log, requestFlush, boot);
    await state.ids.start();
    return state;
  }

  /** Records `name`'s keys (the first holder of a key keeps it). */
  indexName(name: string): void {
    const index = this.names();
    for (const key of nameKeys(name)) if (!index.has(key)) index.set(key, name);
  }

  unindexName(name: string): void {
    const index = this.nameIndex;
    if (index) for (const key of nameKeys(name)) if (index.get(key) === name) index.delete(key);
  }

  /** An existing name that `name` would be taken for (by case or look-alike letters), if any. */
  similarName(name: string): string | undefined {
    const index = this.names();
    for (const key of nameKeys(name)) {
      const other = index.get(key);
      if (other !== undefined && other !== name) return other;
    }
    return undefined;
  }

  /**
   * The name index, built at its first use from the accounts in their order, as if each had been
   * indexed when it was added; names learnt from elsewhere (a shared store) join it after them.
   */
  private names(): Map<string, string> {
    if (!this.nameIndex) {
      const index = (this.nameIndex = new Map());
      for (const account of this.accounts.keys()) for (const key of nameKeys(account)) if (!index.has(key)) index.set(key, account);
    }
    return this.nameIndex;
  }

  now(): number {
    return this.clock();
  }

  /** True when `blocker` blocks `user`. */
  isBlocking(blocker: string, user: string): boolean {
    return this.blocks.get(blocker)?.has(user) ?? false;
  }

  blockSet(blocker: string): Set<string> {
    let set = this.blocks.get(blocker);
    if (!set) this.blocks.set(blocker, (set = new Set()));
    return set;
  }

  isLocked(user: string): boolean {
    return (this.lockedUntil.get(user) ?? 0) > this.now();
  }
}

// A node's lease in Redis: `node:<id>` holds the token of the node's current epoch with a PX that
// the node keeps refreshing. Other nodes take a missing or changed lease as that epoch's death.
// Fencing (CLU-5): a node that finds its lease expired — it was paused, or its loop starved, past the
// lease — is told (`onLost`) and must close every session before it takes a new epoch and serves again.
// A Redis that restarted empty is told apart from an expiry by the generation key: then the node
// re-asserts its lease (`onReset`) and keeps its sessions.

import type { Keys } from './keys.ts';
import { RedisUnavailableError, Script, type RedisLink } from './redis-link.ts';

/** Reads the generation, making one (and starting to settle) when Redis has none: it is new or was reset. */
const GENERATION = `
local function generation(key, settling, fresh, px)
  local g = redis.call('GET', key)
  if g then return g end
  redis.call('SET', key, fresh)
  redis.call('SET', settling, '1', 'PX', px)
  return fresh
end`;

/**
 * KEYS: lease, generation, settling. ARGV: token, lease ms, a fresh generation value.
 * Returns {status, generation}: 1 held (refreshed), 0 missing, -1 held by another epoch.
 */
const REFRESH = new Script(`${GENERATION}
local generation = generation(KEYS[2], KEYS[3], ARGV[3], ARGV[2])
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, generation}
end
if not v then return {0, generation} end
return {-1, generation}`);

/**
 * KEYS: lease, owners, generation, settling. ARGV: token, lease ms, owner, now, a fresh generation value.
 * {1, generation} when taken, {0, generation} when another epoch holds it.
 */
const ACQUIRE = new Script(`${GENERATION}
local generation = generation(KEYS[3], KEYS[4], ARGV[5], ARGV[2])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return {1, generation}
end
return {0, generation}`);

export type LeaseStatus = 'starting' | 'held' | 'lost';

export interface LeaseOptions {
  /** How long the lease lives without a refresh (PX). */
  leaseMs?: number;
  /** How often it is refreshed. */
  refreshMs?: number;
  /**
   * Cut off from Redis this long, the node stops serving (without closing anything) until Redis
   * answers: a node cut off while the others are not must not keep users that may have logged in
   * elsewhere meanwhile. Default 4 leases.
   */
  maxUnconfirmedMs?: number;
  clock?: () => number;
  /** The lease expired: close every session now (synchronously); a new epoch follows. */
  onLost?: (why: string) => void;
  /** Redis restarted empty and the lease was taken again: re-assert sessions and presence. */
  onReset?: () => void;
  /** Something worth one log line (Redis unreachable, the node name taken, ...). */
  onLog?: (line: string) => void;
}

export class NodeLease {
  readonly leaseMs: number;
  readonly refreshMs: number;
  readonly maxUnconfirmedMs: number;
  private readonly clock: () => number;
  private token = '';
  private generation: string | undefined;
  private state: LeaseStatus = 'starting';
  /** When the last refresh that Redis confirmed was sent: the lease lives until this + leaseMs. */
  private confirmedAt = -Infinity;
  /** When tick() last ran: a gap longer than the lease means this process was frozen. */
  private tickedAt: number | undefined;
  /** A freeze was seen and Redis has not yet said whether the lease survived it. */
  private unsure = false;
  private ticking: Promise<void> | undefined;
  private timer: Timer | undefined;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: Keys,
    readonly node: string,
    private readonly options: LeaseOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 1500;
    this.refreshMs = options.refreshMs ?? 300;
    this.maxUnconfirmedMs = options.maxUnconfirmedMs ?? 4 * this.leaseMs;
    this.clock = options.clock ?? Date.now;
    this.newEpoch();
  }

  /** `<node>#<epoch token>`: what session keys hold; it dies with this epoch. */
  get owner(): string {
    return `${this.node}#${this.token}`;
  }

  get status(): LeaseStatus {
    return this.state;
  }

  /**
   * Whether the node may act on its sessions now: it holds the lease, its refresh loop has run
   * recently, no freeze awaits Redis's verdict, and Redis confirmed the lease within
   * maxUnconfirmedMs. A short Redis outage does not stop service; a freeze does until Redis answers.
   */
  mayServe(now = this.clock()): boolean {
    return (
      this.state === 'held' &&
      !this.unsure &&
      this.tickedAt !== undefined &&
      now - this.tickedAt < this.leaseMs &&
      now - this.confirmedAt < this.maxUnconfirmedMs
    );
  }

  /** Refreshes every `refreshMs` until stop(). Resolves after the first tick. */
  async start(): Promise<void> {
    this.timer ??= setInterval(() => void this.tick(), this.refreshMs);
    await this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Gives the lease up (a clean shutdown): other nodes see this epoch dead at once, and the next
   * janitor run clears its sessions with a logout each.
   */
  async release(): Promise<void> {
    this.stop();
    this.state = 'lost';
    await this.link
      .call('EVAL', ["if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1", 1, this.keys.lease(this.node), this.token])
      .catch(() => {});
  }

  /** One refresh; never rejects. Concurrent calls share one. */
  tick(): Promise<void> {
    this.ticking ??= this.refresh().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async refresh(): Promise<void> {
    const sentAt = this.clock();
    if (this.tickedAt !== undefined && sentAt - this.tickedAt >= this.leaseMs) this.unsure = true;
    this.tickedAt = sentAt;
    try {
      if (this.state !== 'held') {
        await this.acquire(sentAt);
        return;
      }
      const [status, generation] = await this.link.eval<[number, string]>(REFRESH, [this.keys.lease(this.node), this.keys.generation, this.keys.settling], [
        this.token,
        this.leaseMs,
        crypto.randomUUID(),
      ]);
      const reset = this.generation !== undefined && generation !== this.generation;
      this.generation = generation;
      if (status === 1) {
        this.confirmedAt = sentAt;
        this.unsure = false;
      } else if (status === 0 && reset) {
        // Redis lost everything, our lease included; it could not have expired in our hands.
        if (await this.take(sentAt)) this.tell(() => this.options.onReset?.());
      } else {
        this.fence(status === 0 ? `the lease of ${this.node} expired` : `another process holds the lease of ${this.node}`);
        await this.acquire(sentAt);
      }
    } catch (error) {
      // Nothing is closed on a failed refresh: when Redis answers again, it tells an expiry (fence)
      // from a reset (re-assert). Meanwhile mayServe() says whether to go on serving.
      this.options.onLog?.(
        error instanceof RedisUnavailableError ? `${error.message}; keeping the lease of ${this.node} until Redis answers` : `refreshing the lease of ${this.node} failed: ${String(error)}`,
      );
    }
  }

  private async acquire(now: number): Promise<void> {
    if (this.state === 'lost') this.newEpoch();
    if (!(await this.take(now))) {
      this.options.onLog?.(`the lease of ${this.node} is held by another epoch; waiting for it to expire`);
    }
  }

  private async take(now: number): Promise<boolean> {
    const [taken, generation] = await this.link.eval<[number, string]>(
      ACQUIRE,
      [this.keys.lease(this.node), this.keys.owners, this.keys.generation, this.keys.settling],
      [this.token, this.leaseMs, this.owner, now, crypto.randomUUID()],
    );
    this.generation = generation;
    if (taken !== 1) return false;
    this.state = 'held';
    this.confirmedAt = now;
    this.unsure = false;
    return true;
  }

  private fence(why: string): void {
    this.state = 'lost';
    this.options.onLog?.(`${why}: closing its sessions before serving again`);
    this.tell(() => this.options.onLost?.(why));
  }

  private newEpoch(): void {
    this.token = crypto.randomUUID().slice(0, 13);
  }

  private tell(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.options.onLog?.(`a lease listener failed: ${String(error)}`);
    }
  }
}

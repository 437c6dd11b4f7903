// Wrong-password strikes counted in one place for every node (AUTH-4, SEC-1, CLU-2): three strikes on
// any nodes lock the username everywhere for the block duration. A password check is begun before the
// (slow) hash is verified, and checks in progress count against the three, so however many guesses
// arrive at once, on however many nodes, at most three wrong passwords are checked per lock period.

import type { Keys } from './keys.ts';
import { Script, type RedisLink } from './redis-link.ts';

/** Wrong passwords in a row that lock a username. */
export const MAX_STRIKES = 3;

/**
 * KEYS: locked, strikes, checking. ARGV: max strikes, check ms (how long a begun check may take).
 * {1, 0}: go ahead and check; {0, ms}: locked for ms more; {-1, 0}: enough checks are in progress.
 */
const BEGIN = new Script(`
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return {0, left} end
local strikes = tonumber(redis.call('GET', KEYS[2]) or '0')
local checking = tonumber(redis.call('GET', KEYS[3]) or '0')
if strikes + checking >= tonumber(ARGV[1]) then return {-1, 0} end
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return {1, 0}`);

/**
 * KEYS: locked, strikes, checking. ARGV: max strikes, block ms, strike memory ms.
 * {n, 0}: n strikes so far; {n, block ms}: that was the last one, the username is locked.
 */
const FAIL = new Script(`
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  return {n, tonumber(ARGV[2])}
end
return {n, 0}`);

/** KEYS: strikes, checking. A right password: the strikes are forgotten. */
const SUCCEED = new Script(`
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
redis.call('DEL', KEYS[1])
return 1`);

/** KEYS: checking. A begun check that could not be made (it threw): neither right nor wrong, no strike. */
const ABANDON = new Script(`
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1`);

export type Begin = { readonly go: true } | { readonly go: false; readonly reason: 'locked'; readonly ms: number } | { readonly go: false; readonly reason: 'busy' };

export type Strike = { readonly locked: false; readonly strikes: number } | { readonly locked: true; readonly ms: number };

export interface LockoutOptions {
  /** How long three strikes lock a username (the server's block_duration). */
  blockMs: number;
  /** How long a begun check may take before it no longer counts (a node died mid-check). */
  checkMs?: number;
  /** How long strikes are remembered without a new one (a single node remembers until restart). */
  strikeMemoryMs?: number;
}

export class ClusterLockout {
  private readonly checkMs: number;
  private readonly strikeMemoryMs: number;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: Keys,
    private readonly options: LockoutOptions,
  ) {
    this.checkMs = options.checkMs ?? 30_000;
    this.strikeMemoryMs = options.strikeMemoryMs ?? 24 * 3600_000;
  }

  /** Before verifying a password for `user`: whether to check it now. Pair each `go` with fail(), succeed() or abandon(). */
  async begin(user: string): Promise<Begin> {
    const [status, ms] = await this.link.eval<[number, number]>(BEGIN, this.userKeys(user), [MAX_STRIKES, this.checkMs]);
    if (status === 1) return { go: true };
    return status === 0 ? { go: false, reason: 'locked', ms } : { go: false, reason: 'busy' };
  }

  /** The password was wrong. */
  async fail(user: string): Promise<Strike> {
    const [n, ms] = await this.link.eval<[number, number]>(FAIL, this.userKeys(user), [MAX_STRIKES, this.options.blockMs, this.strikeMemoryMs]);
    return ms > 0 ? { locked: true, ms } : { locked: false, strikes: n };
  }

  /** The password was right. */
  async succeed(user: string): Promise<void> {
    await this.link.eval(SUCCEED, [this.keys.strikes(user), this.keys.checking(user)], []);
  }

  /** The check could not be made (the password queue refused it, the verify threw): its strike is free again at once. */
  async abandon(user: string): Promise<void> {
    await this.link.eval(ABANDON, [this.keys.checking(user)], []);
  }

  /** How long `user` stays locked (0 when not locked). */
  async lockedFor(user: string): Promise<number> {
    return Math.max(0, await this.link.call<number>('PTTL', [this.keys.locked(user)]));
  }

  private userKeys(user: string): string[] {
    return [this.keys.locked(user), this.keys.strikes(user), this.keys.checking(user)];
  }
}

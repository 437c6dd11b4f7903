// Who is logged in where, across nodes (AUTH-5, CLU-2, CLU-3). `session:<user>` holds the owner
// (`<node>#<epoch>`) of the user's session; a claim succeeds only when the key is free or its owner's
// epoch is dead, and appends the old owner's logout and the new login to the events stream in the same
// script, so every node sees presence in one order. A janitor script clears a dead epoch's sessions.

import type { Keys } from './keys.ts';
import { Script, type RedisLink } from './redis-link.ts';

/** An owner string is `<node>#<token>`; its epoch is alive while `node:<node>` holds `<token>`. */
const OWNER_ALIVE = `
local function alive(owner)
  local node, token = string.match(owner, '^(.*)#([^#]*)$')
  if not node then return false end
  return redis.call('GET', ARGV[1] .. node) == token
end`;

/**
 * KEYS: session, events, owned-by-me, settling, online, lastseen. ARGV: lease prefix, owned prefix,
 * me, user, now, events max length, reassert (1/0).
 * Returns {1, previous owner or ''} when claimed, {2, ''} when it was already mine,
 * {0, owner} when a live owner holds it, {-1, ''} while Redis is settling after a reset.
 */
const CLAIM = new Script(`${OWNER_ALIVE}
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[3] then
  redis.call('SADD', KEYS[3], ARGV[4])
  redis.call('HSET', KEYS[5], ARGV[4], ARGV[3])
  return {2, ''}
end
if owner and alive(owner) then return {0, owner} end
if ARGV[7] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then return {-1, ''} end
if owner then
  redis.call('SREM', ARGV[2] .. owner, ARGV[4])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'logout', 'user', ARGV[4], 'owner', owner, 'at', ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[4], ARGV[3])
redis.call('ZREM', KEYS[6], ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'login', 'user', ARGV[4], 'owner', ARGV[3], 'at', ARGV[5])
return {1, owner or ''}`);

/**
 * KEYS: session, events, owned-by-me, online, lastseen. ARGV: me, user, now, events max length,
 * gone (1/0). 1 released, 0 not mine. With `gone`, a missing session counts as mine: the logout
 * could not be told when it happened and Redis has since lost the key (it restarted empty).
 */
const RELEASE = new Script(`
redis.call('SREM', KEYS[3], ARGV[2])
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] and (owner or ARGV[5] ~= '1') then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'logout', 'user', ARGV[2], 'owner', ARGV[1], 'at', ARGV[3])
return 1`);

/**
 * KEYS: owners, events, online, lastseen. ARGV: lease prefix, owned prefix, session prefix, now,
 * events max length.
 * Clears every dead owner's sessions (each with a logout event); returns {owner, user, owner, user, ...}.
 * Idempotent: a second janitor finds nothing left to do.
 */
const REAP = new Script(`${OWNER_ALIVE}
local out = {}
local owners = redis.call('HKEYS', KEYS[1])
for _, owner in ipairs(owners) do
  if not alive(owner) then
    local owned = ARGV[2] .. owner
    for _, user in ipairs(redis.call('SMEMBERS', owned)) do
      local key = ARGV[3] .. user
      if redis.call('GET', key) == owner then
        redis.call('DEL', key)
        redis.call('HDEL', KEYS[3], user)
        redis.call('ZADD', KEYS[4], ARGV[4], user)
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'type', 'logout', 'user', user, 'owner', owner, 'at', ARGV[4])
        table.insert(out, owner)
        table.insert(out, user)
      end
    end
    redis.call('DEL', owned)
    redis.call('HDEL', KEYS[1], owner)
  end
end
return out`);

export type Claim =
  | { readonly ok: true; readonly already: boolean; /** The dead owner it was taken from, if any. */ readonly from?: string }
  | { readonly ok: false; readonly reason: 'taken'; readonly owner: string }
  | { readonly ok: false; readonly reason: 'settling' };

export interface SessionRegistryOptions {
  /** Approximate cap on the events stream (XADD MAXLEN ~). */
  eventsMaxLen?: number;
  clock?: () => number;
}

export class SessionRegistry {
  private readonly maxLen: number;
  private readonly clock: () => number;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: Keys,
    /** The current owner string (the lease's `owner`: it changes with each epoch). */
    private readonly me: () => string,
    options: SessionRegistryOptions = {},
  ) {
    this.maxLen = options.eventsMaxLen ?? 100_000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Claims `user`'s session for this node (AUTH-5 across nodes). `reassert` is for sessions this node
   * already holds, after Redis restarted empty: it skips the settling wait.
   */
  async claim(user: string, options: { reassert?: boolean } = {}): Promise<Claim> {
    const me = this.me();
    const [status, owner] = await this.link.eval<[number, string]>(
      CLAIM,
      [this.keys.session(user), this.keys.events, this.keys.ownedBy(me), this.keys.settling, this.keys.online, this.keys.lastSeen],
      [this.keys.leasePrefix, this.keys.ownedPrefix, me, user, this.clock(), this.maxLen, options.reassert ? 1 : 0],
    );
    if (status === 1) return owner ? { ok: true, already: false, from: owner } : { ok: true, already: false };
    if (status === 2) return { ok: true, already: true };
    if (status === -1) return { ok: false, reason: 'settling' };
    return { ok: false, reason: 'taken', owner };
  }

  /**
   * Ends `user`'s session if this node holds it (logout, timeout, vanished); false when it did not.
   * `gone`: this release failed earlier (Redis unreachable) and is tried again; if Redis lost the
   * session meanwhile, the logout is appended all the same, for nodes that still show the user online.
   */
  async release(user: string, options: { gone?: boolean } = {}): Promise<boolean> {
    const me = this.me();
    const released = await this.link.eval<number>(
      RELEASE,
      [this.keys.session(user), this.keys.events, this.keys.ownedBy(me), this.keys.online, this.keys.lastSeen],
      [me, user, this.clock(), this.maxLen, options.gone ? 1 : 0],
    );
    return released === 1;
  }

  /** Who holds `user`'s session now, or undefined. (Alive or not: a claim decides.) */
  async ownerOf(user: string): Promise<string | undefined> {
    return (await this.link.call<string | null>('GET', [this.keys.session(user)])) ?? undefined;
  }

  /**
   * Clears the sessions of every dead epoch, each with a logout event (CLU-3); any node may run it,
   * as often as it likes. Returns what it cleared.
   */
  async reapDead(): Promise<{ owner: string; user: string }[]> {
    const flat = await this.link.eval<string[]>(REAP, [this.keys.owners, this.keys.events, this.keys.online, this.keys.lastSeen], [
      this.keys.leasePrefix,
      this.keys.ownedPrefix,
      this.keys.sessionPrefix,
      this.clock(),
      this.maxLen,
    ]);
    const out: { owner: string; user: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ owner: flat[i] as string, user: flat[i + 1] as string });
    return out;
  }
}

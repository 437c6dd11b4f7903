// Each node's copy of who is online anywhere and when the others were last seen (PRES-1..3 across
// nodes): loaded from Redis (`online` hash, `lastseen` sorted set, kept by the session scripts) with
// the events stream's position, then kept current by the login/logout entries read from there.
// Applying an entry says what changed: what the node announces to its own users. Last-seen times
// survive a Redis reset here.

import type { Keys } from './keys.ts';
import type { Presence } from './node-messages.ts';
import { Script, type RedisLink } from './redis-link.ts';

/** KEYS: online, lastseen, events. {online as [user, owner, ...], lastseen as [user, ms, ...], events' last id}. */
const SNAPSHOT = new Script(`
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
return {redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'), id}`);

export type PresenceChange = 'login' | 'logout' | undefined;

export class PresenceMirror {
  /** user -> owner (`<node>#<epoch>`) of their session. */
  readonly online = new Map<string, string>();
  /** user -> when they were last online (milliseconds), for users now offline. */
  readonly lastSeen = new Map<string, number>();

  /**
   * Reads the whole picture from Redis in one script, with the events stream's position at that
   * moment: read the events from there, and nothing is missed or applied twice. Returns that
   * position and who came or went compared with what this mirror held (after a Redis reset, reload
   * once the live nodes have re-asserted, and announce the differences).
   */
  async load(link: RedisLink, keys: Keys, now = Date.now()): Promise<{ position: string; changes: [string, 'login' | 'logout'][] }> {
    const [online, seen, position] = await link.eval<[string[], string[], string]>(SNAPSHOT, [keys.online, keys.lastSeen, keys.events], []);
    const before = new Set(this.online.keys());
    this.online.clear();
    for (const [user, owner] of pairs(online)) this.online.set(user, owner);
    for (const [user, at] of pairs(seen)) {
      const ms = Number(at);
      if (!this.online.has(user) && ms > (this.lastSeen.get(user) ?? -1)) this.lastSeen.set(user, ms);
    }
    const changes: [string, 'login' | 'logout'][] = [];
    for (const user of this.online.keys()) {
      this.lastSeen.delete(user);
      if (!before.has(user)) changes.push([user, 'login']);
    }
    for (const user of before) {
      if (this.online.has(user)) continue;
      changes.push([user, 'logout']);
      if (!this.lastSeen.has(user)) this.lastSeen.set(user, now);
    }
    return { position, changes };
  }

  /** Applies one login/logout entry; says whether `user` came online, went offline, or neither. */
  apply(event: Presence): PresenceChange {
    if (event.type === 'login') {
      const was = this.online.get(event.user);
      this.online.set(event.user, event.owner);
      this.lastSeen.delete(event.user);
      return was === undefined ? 'login' : undefined;
    }
    // A logout of an owner that no longer holds the session (a late entry after a takeover) is old news.
    const current = this.online.get(event.user);
    if (current !== undefined && current !== event.owner) return undefined;
    this.lastSeen.set(event.user, Math.max(event.at, this.lastSeen.get(event.user) ?? 0));
    if (current === undefined) return undefined;
    this.online.delete(event.user);
    return 'logout';
  }

  /** Users online now or seen since `since` (PRES-3), in no order. */
  onlineOrSeenSince(since: number): string[] {
    const users = [...this.online.keys()];
    for (const [user, at] of this.lastSeen) if (at >= since) users.push(user);
    return users;
  }
}

/** A flat [k, v, k, v, ...] reply as pairs. */
function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

// The Redis key names of one chat cluster, in one place. Everything lives under a prefix, so that
// several clusters (or tests) can share a Redis. A Redis Cluster would need hash tags: not supported.

export class Keys {
  constructor(readonly prefix = 'chat:') {}

  /** A node's lease: its current epoch token, with a PX that the node keeps refreshing. */
  lease(node: string): string {
    return `${this.prefix}node:${node}`;
  }

  /** Lease keys are `leasePrefix + node` (scripts build them from an owner's node). */
  get leasePrefix(): string {
    return `${this.prefix}node:`;
  }

  /**
   * A random value made when this Redis first saw the cluster. A new value means Redis lost
   * everything (restarted empty): nodes then re-assert their leases and sessions instead of fencing.
   */
  get generation(): string {
    return `${this.prefix}generation`;
  }

  /** Present (PX one lease) after a new generation: no new session claims until live nodes re-asserted theirs. */
  get settling(): string {
    return `${this.prefix}settling`;
  }

  /** Every node epoch that registered and has not been cleaned up: a hash owner -> registration time. */
  get owners(): string {
    return `${this.prefix}owners`;
  }

  /** Which owner (`<node>#<epoch>`) holds the session of `user`. */
  session(user: string): string {
    return `${this.prefix}session:${user}`;
  }

  get sessionPrefix(): string {
    return `${this.prefix}session:`;
  }

  /** Every user logged in anywhere: a hash user -> owner, kept by the session scripts (whoelse). */
  get online(): string {
    return `${this.prefix}online`;
  }

  /** When each user now offline was last online: a sorted set scored by milliseconds (whoelsesince). */
  get lastSeen(): string {
    return `${this.prefix}lastseen`;
  }

  /** The users whose sessions an owner holds (for the janitor when it dies). */
  ownedBy(owner: string): string {
    return `${this.prefix}owned:${owner}`;
  }

  get ownedPrefix(): string {
    return `${this.prefix}owned:`;
  }

  /** Taken (NX, PX) by the one node that cleans up after a dead owner. */
  janitor(owner: string): string {
    return `${this.prefix}janitor:${owner}`;
  }

  /** Wrong passwords in a row for `user` (AUTH-4). */
  strikes(user: string): string {
    return `${this.prefix}strikes:${user}`;
  }

  /** Password checks in progress for `user` (SEC-1: they count against the three). */
  checking(user: string): string {
    return `${this.prefix}checking:${user}`;
  }

  /** Present while `user` is locked out; its PTTL is what is left of the lock. */
  locked(user: string): string {
    return `${this.prefix}locked:${user}`;
  }

  /** Node-to-node traffic addressed to one node. */
  inbox(node: string): string {
    return `${this.prefix}inbox:${node}`;
  }

  /** Traffic for every node: presence, block changes, broadcasts. */
  get events(): string {
    return `${this.prefix}events`;
  }
}

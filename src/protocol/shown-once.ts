// Showing each routed message once (CLU-3), for both clients: a message is known by its `key`,
// which the server never changes, while its `id` is stamped anew whenever it is written. The last
// KEEP_KEYS keys shown are remembered: a message comes again only while it is unacknowledged, and
// the server sends at most a page of those (200) plus what was in flight. A server from before
// keys sends none; then the rule is the old one, the highest id shown (its ids only grow). Pure:
// the terminal client keeps it in a file (src/client/seen-ids.ts), the page in localStorage.

/** Keys of messages shown that are remembered, the latest ones. */
export const KEEP_KEYS = 1000;

/** What identifies a routed message line: `key` from servers that send it. */
export interface Sighting {
  readonly id: number;
  readonly key?: number;
}

/** How it is saved (JSON). Before keys, a bare number was saved: the highest id shown. */
export interface ShownSaved {
  keys: number[];
  upTo: number;
}

export class ShownOnce {
  /** Keys shown, oldest first (a Set keeps insertion order). */
  private readonly keys: Set<number>;
  /** Highest id shown of messages without a key (a server from before keys). */
  upTo: number;

  /**
   * From what was saved, whatever its age: a bare number (before keys) is the highest id shown and
   * still rules messages without a key; keyed messages start with no keys remembered, so at worst
   * one shown and not acknowledged just before the upgrade is shown once more, never one hidden.
   */
  constructor(saved?: unknown) {
    const { keys, upTo } = typeof saved === 'object' && saved !== null ? (saved as Partial<ShownSaved>) : { keys: [], upTo: saved };
    this.keys = new Set(Array.isArray(keys) ? keys.filter((k) => Number.isSafeInteger(k)).slice(-KEEP_KEYS) : []);
    this.upTo = typeof upTo === 'number' && Number.isSafeInteger(upTo) ? upTo : 0;
  }

  /** True the first time a message comes (by its key, or without one above the highest id); then it counts as shown. */
  firstSight(line: Sighting): boolean {
    if (line.key === undefined) {
      if (line.id <= this.upTo) return false;
      this.upTo = line.id;
      return true;
    }
    if (this.keys.has(line.key)) return false;
    this.keys.add(line.key);
    if (this.keys.size > KEEP_KEYS) this.keys.delete(this.keys.values().next().value as number);
    return true;
  }

  toJSON(): ShownSaved {
    return { keys: [...this.keys], upTo: this.upTo };
  }
}

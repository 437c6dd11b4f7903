// What this node has for other nodes' inboxes in one turn, packed: the deliveries, `delivered` and
// `refused` entries for one node go out as one stream entry (one XADD) when the turn ends, instead of
// one each. Every Redis call costs the node far more than the entry's bytes (a promise, a deadline
// timer, a reply to parse) and Redis one command; the reader on the other side decodes one entry.
// All the `delivered` entries of a turn become one (it lists origins). A lone entry goes out as it is,
// as nodes from before packs send it, so a node from before still understands a quiet cluster.
// Knows no Redis: `write` does the XADD, `schedule` says when the turn ends.

import type { Delivered, InboxEntry, Packable } from './node-messages.ts';

export interface NodeOutboxOptions {
  /** Entries per pack at most (a long burst goes out as several packs). */
  maxEntries?: number;
  /** Runs `flush` once the current turn ends; setImmediate: after every socket ready in this turn. */
  schedule?: (flush: () => void) => void;
}

export class NodeOutbox {
  /** Per destination node, in the order they were put. */
  private queued = new Map<string, Packable[]>();
  private scheduled = false;
  private readonly maxEntries: number;
  private readonly schedule: (flush: () => void) => void;

  constructor(
    /** Appends one entry to `node`'s inbox. A rejection is the caller's to ignore: what was sent is held by its sender. */
    private readonly write: (node: string, entry: InboxEntry) => Promise<unknown>,
    options: NodeOutboxOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 200;
    this.schedule = options.schedule ?? ((flush) => void setImmediate(flush));
  }

  /** Entries waiting for the end of the turn. */
  get size(): number {
    let n = 0;
    for (const entries of this.queued.values()) n += entries.length;
    return n;
  }

  /** Queues `entry` for `node`; it is written when the turn ends. */
  put(node: string, entry: Packable): void {
    const entries = this.queued.get(node);
    if (entries) entries.push(entry);
    else this.queued.set(node, [entry]);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * Writes what is queued now: for `node` only (before an entry that must not overtake them), or for
   * every node. Resolves when the writes are answered; never rejects (a lost pack is a lost entry each:
   * its deliveries are stored by their senders after ackMs, its replies likewise).
   */
  flush(node?: string): Promise<void> {
    const nodes = node === undefined ? [...this.queued.keys()] : this.queued.has(node) ? [node] : [];
    const writes: Promise<unknown>[] = [];
    for (const to of nodes) {
      const entries = this.queued.get(to) as Packable[];
      this.queued.delete(to);
      for (const entry of pack(entries, this.maxEntries)) writes.push(this.write(to, entry).catch(() => {}));
    }
    return Promise.all(writes).then(() => {});
  }
}

/** `entries` as few inbox entries as fit: the `delivered` ones merged into one, then packs of up to `max`. */
export function pack(entries: readonly Packable[], max: number): InboxEntry[] {
  const merged: Packable[] = [];
  let delivered: string[] | undefined;
  for (const entry of entries) {
    if (entry.type !== 'delivered') merged.push(entry);
    else if (delivered) delivered.push(...entry.origins);
    else {
      delivered = [...entry.origins];
      merged.push({ type: 'delivered', origins: delivered } satisfies Delivered);
    }
  }
  const out: InboxEntry[] = [];
  for (let i = 0; i < merged.length; i += max) {
    const part = merged.slice(i, i + max);
    out.push(part.length === 1 ? (part[0] as Packable) : { type: 'pack', entries: part });
  }
  return out;
}

// One node's whole Redis side, assembled: a command link, the lease loop, the session registry, a
// reader (on a link of its own) for the node's inbox and the shared events, and the janitor loop that
// clears dead nodes' sessions and tells which watched owners died. The server will own one of these
// in cluster mode; it knows no sockets and no sessions of its own, only callbacks.

import { Keys } from './keys.ts';
import { NodeLease } from './lease.ts';
import { decodeEntry, encodeEntry, type EventEntry, type InboxEntry, type Packable } from './node-messages.ts';
import { NodeOutbox } from './node-outbox.ts';
import { PresenceMirror, type PresenceChange } from './presence-mirror.ts';
import { RedisLink } from './redis-link.ts';
import { SessionRegistry } from './sessions.ts';
import { append, lastId, StreamReader } from './streams.ts';

const INBOX_TYPES: ReadonlySet<string> = new Set<InboxEntry['type']>(['deliver', 'delivered', 'refused', 'backlog', 'private', 'private-ask', 'private-answer', 'pack']);

/** Entries per pack at most (what one node has for another in one turn, node-outbox.ts). */
const PACK_ENTRIES = 100;

export interface ClusterNodeOptions {
  readonly url: string;
  readonly node: string;
  readonly keys?: Keys;
  readonly leaseMs?: number;
  readonly refreshMs?: number;
  /** How often dead owners are looked for. */
  readonly janitorMs?: number;
  /** How long start() waits for the lease (another process may hold the name until it expires). */
  readonly startMs?: number;
  /** Fenced: close every session now (synchronously). */
  readonly onLost?: (why: string) => void;
  /** Redis restarted empty: re-claim every session (`sessions.claim(user, { reassert: true })`). */
  readonly onReset?: () => void;
  /** One inbox entry (a pack's entries come one by one, never the pack). */
  readonly onInbox?: (entry: Exclude<InboxEntry, { type: 'pack' }>) => void;
  /** An events entry; for a login/logout, what it changed in `presence` (what to announce here). */
  readonly onEvent?: (entry: EventEntry, change: PresenceChange) => void;
  /** Owners passed to watch() whose epoch has died: store what was handed to them. */
  readonly onOwnersDead?: (owners: string[]) => void;
  /** One line per notable change: Redis reachable or not, fencing, malformed entries. */
  readonly log?: (line: string) => void;
}

export class ClusterNode {
  readonly keys: Keys;
  readonly link: RedisLink;
  readonly lease: NodeLease;
  readonly sessions: SessionRegistry;
  /** Who is online anywhere, and when the others were last seen (whoelse, whoelsesince). */
  readonly presence = new PresenceMirror();
  private readonly readerLink: RedisLink;
  /** Deliveries and their replies for other nodes, packed per node and turn. */
  private readonly outbox = new NodeOutbox((node, entry) => this.append(node, entry), { maxEntries: PACK_ENTRIES });
  private reader: StreamReader | undefined;
  private janitor: Timer | undefined;
  private sweeping = false;
  /** Owners someone here waits on (handed-off messages), with how many waits each. */
  private readonly watched = new Map<string, number>();

  constructor(private readonly options: ClusterNodeOptions) {
    const log = options.log ?? (() => {});
    this.keys = options.keys ?? new Keys();
    this.link = new RedisLink(options.url, { onState: (up, why) => log(up ? `redis ${options.url}: reachable` : `redis ${options.url}: unreachable (${why}); retrying`) });
    this.readerLink = new RedisLink(options.url);
    this.lease = new NodeLease(this.link, this.keys, options.node, {
      ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
      ...(options.refreshMs !== undefined && { refreshMs: options.refreshMs }),
      onLost: (why) => options.onLost?.(why),
      onReset: () => options.onReset?.(),
      onLog: log,
    });
    this.sessions = new SessionRegistry(this.link, this.keys, () => this.lease.owner);
  }

  get inbox(): string {
    return this.keys.inbox(this.options.node);
  }

  /** Takes the lease (waiting up to startMs for a previous holder of the name), then reads and sweeps. */
  async start(): Promise<void> {
    await this.lease.start();
    const deadline = Date.now() + (this.options.startMs ?? 3 * this.lease.leaseMs);
    while (this.lease.status !== 'held') {
      if (Date.now() > deadline) {
        this.stopLoops();
        throw new Error(`cannot start node ${this.options.node}: ${this.link.connected ? 'another live process holds its name' : `Redis at ${this.options.url} is unreachable`}`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.lease.refreshMs));
      await this.lease.tick();
    }
    // Inbox entries from before this start were for an earlier life of this node: its senders saw it
    // die. Events are read from the moment of the presence snapshot.
    const { position } = await this.presence.load(this.link, this.keys);
    const from = new Map([
      [this.inbox, await lastId(this.link, this.inbox)],
      [this.keys.events, position],
    ]);
    this.reader = new StreamReader(this.readerLink, from, (entries) => this.dispatch(entries), {
      // One read is handled in one turn: 100 entries of up to PACK_ENTRIES each bound that turn to
      // about 10k messages (1,000 single entries before packs), so a backlog does not stall the node.
      count: 100,
      onTrouble: (error) => error && !error.message.startsWith('Redis is unavailable') && this.options.log?.(error.message),
    });
    this.reader.start();
    this.janitor = setInterval(() => void this.sweep(), this.options.janitorMs ?? this.lease.leaseMs);
  }

  /**
   * Sends `entry` to `node`'s inbox now (after what is queued for that node, which it must not
   * overtake). Rejects with RedisUnavailableError: the caller holds the message.
   */
  send(node: string, entry: InboxEntry): Promise<string> {
    void this.outbox.flush(node);
    return this.append(node, entry);
  }

  /**
   * Queues `entry` for `node`'s inbox: what this node has for `node` in one turn goes out as one
   * entry when the turn ends. Never rejects: if Redis cannot take it, the entry is lost as a failed
   * send() would lose it (a deliver stays held by its sender, a reply is missed and the sender's
   * node stores after ackMs).
   */
  queue(node: string, entry: Packable): void {
    this.outbox.put(node, entry);
  }

  private append(node: string, entry: InboxEntry): Promise<string> {
    return append(this.link, this.keys.inbox(node), encodeEntry(entry));
  }

  /** Appends `entry` to the events stream, for every node (this one included). */
  publish(entry: EventEntry): Promise<string> {
    return append(this.link, this.keys.events, encodeEntry(entry));
  }

  /** Tell onOwnersDead when `owner`'s epoch dies (once per watch; unwatch when no longer waiting). */
  watch(owner: string): void {
    this.watched.set(owner, (this.watched.get(owner) ?? 0) + 1);
  }

  unwatch(owner: string): void {
    const n = (this.watched.get(owner) ?? 0) - 1;
    if (n > 0) this.watched.set(owner, n);
    else this.watched.delete(owner);
  }

  /** How long the reader has not heard from Redis: a health check of the data path. */
  readerSilentFor(): number {
    return this.reader?.silentFor() ?? 0;
  }

  /** Clears dead owners' sessions and reports watched owners that died. Never rejects. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sessions.reapDead();
      const owners = [...this.watched.keys()];
      if (owners.length === 0) return;
      const nodes = owners.map((o) => o.slice(0, o.lastIndexOf('#')));
      const tokens = await this.link.call<(string | null)[]>('MGET', nodes.map((n) => this.keys.lease(n)));
      const dead = owners.filter((o, i) => tokens[i] !== o.slice(o.lastIndexOf('#') + 1));
      if (dead.length === 0) return;
      for (const o of dead) this.watched.delete(o);
      this.options.onOwnersDead?.(dead);
    } catch (error) {
      // Redis trouble is already reported by the link; try again next time.
      if (!(error instanceof Error && error.name === 'RedisUnavailableError')) this.options.log?.(`janitor: ${String(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  /** A clean stop: the lease is given up, so other nodes clear this node's sessions at once. */
  async stop(): Promise<void> {
    this.stopLoops();
    await this.outbox.flush();
    await this.reader?.stop();
    await this.lease.release();
    this.link.close();
    this.readerLink.close();
  }

  /** Stops every loop and link without giving anything up, as a crash would (for tests). */
  async abandon(): Promise<void> {
    this.stopLoops();
    this.readerLink.close();
    await this.reader?.stop();
    this.link.close();
  }

  private stopLoops(): void {
    this.lease.stop();
    clearInterval(this.janitor);
    this.janitor = undefined;
  }

  private dispatch(entries: readonly { stream: string; fields: Readonly<Record<string, string>> }[]): void {
    for (const e of entries) {
      const message = decodeEntry(e.fields);
      if ('error' in message) {
        this.options.log?.(`skipped an entry of ${e.stream}: ${message.error}`);
        continue;
      }
      const inbox = e.stream === this.inbox;
      if (inbox !== INBOX_TYPES.has(message.type)) {
        this.options.log?.(`skipped an entry of ${e.stream}: a ${message.type} entry does not belong there`);
        continue;
      }
      try {
        if (message.type === 'pack') {
          for (const entry of message.entries) this.handOn(entry);
        } else if (inbox) this.options.onInbox?.(message as Exclude<InboxEntry, { type: 'pack' }>);
        else {
          const change = message.type === 'login' || message.type === 'logout' ? this.presence.apply(message) : undefined;
          this.options.onEvent?.(message as EventEntry, change);
        }
      } catch (error) {
        this.options.log?.(`handling a ${message.type} entry failed: ${String(error)}`);
      }
    }
  }

  /** One entry of a pack: one that fails does not take the rest of the pack with it. */
  private handOn(entry: Packable): void {
    try {
      this.options.onInbox?.(entry);
    } catch (error) {
      this.options.log?.(`handling a ${entry.type} entry failed: ${String(error)}`);
    }
  }
}

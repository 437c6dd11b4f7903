// Delivery across the nodes of a cluster (CLU-1): who is online comes from the presence mirror, a
// login claims `session:<user>` in Redis (AUTH-5 on every node), a direct message to a user on
// another node is handed to that node's inbox and held here until it says `delivered` (or stored by
// its origin key when it does not), broadcasts and presence go through the events stream and every
// node fans them out to its own sessions with the block filter (a broadcast's own node at once,
// without waiting for Redis). The node that writes to a connection stamps the id, so the ids a
// client sees only grow; the key the sender's node gave the message travels with it, and is what
// clients show once by (CLU-3).

import { encodeMessage } from '../protocol/server-lines.ts';
import type { BroadcastResult, Claimed, Delivery } from '../server/delivery.ts';
import { broadcastHere, holdOrSend, sendBacklog, sendOnline, store } from '../server/messaging.ts';
import { announce } from '../server/presence.ts';
import { privatePeerGone, receivePrivate, type PrivateNotice, type PrivateRefusal } from '../server/private.ts';
import type { Outcome } from '../server/session.ts';
import type { ServerState } from '../server/state.ts';
import type { OriginMessage } from '../store/async-store.ts';
import type { StoredMessage } from '../store/store.ts';
import { BroadcastOutbox } from './broadcast-outbox.ts';
import type { ClusterNode } from './cluster-node.ts';
import { ClusterPrivate } from './cluster-private.ts';
import { RedisUnavailableError } from './redis-link.ts';
import { Handoffs, type HandoffOutcome } from './handoffs.ts';
import type { Deliver, EventEntry, InboxEntry, Packable } from './node-messages.ts';
import type { PresenceChange } from './presence-mirror.ts';

/** `<node>#<epoch>` -> `<node>`. */
function nodeOf(owner: string): string {
  return owner.slice(0, owner.lastIndexOf('#'));
}

export class ClusterDelivery implements Delivery {
  readonly handoffs: Handoffs;
  private readonly privateChats: ClusterPrivate;
  private seq = 0;
  /** Broadcasts sent here, on their way to the other nodes. */
  private readonly outbox: BroadcastOutbox;
  private ticker: Timer | undefined;
  /**
   * Users whose session ended here while Redis could not be told: released again until Redis
   * answers, or nobody could ever log in as them again (their session key would stay ours) and
   * other nodes would show them online for ever.
   */
  private readonly owedReleases = new Set<string>();
  private releasing = false;

  constructor(
    private readonly state: ServerState,
    private readonly node: ClusterNode,
  ) {
    this.handoffs = new Handoffs(state.store, {
      ackMs: state.config.ackTimeoutMs,
      onLog: state.log,
      afterStore: (to) => this.afterStore(to),
    });
    this.privateChats = new ClusterPrivate(state, node);
    this.outbox = new BroadcastOutbox((items) => node.publish({ type: 'broadcasts', node: this.nodeName, items }), { log: state.log });
  }

  /** Starts the timer that stores handed-off messages nobody confirmed in time. */
  start(): void {
    this.ticker = setInterval(() => {
      void this.handoffs.tick(Date.now());
      void this.payReleases();
    }, 200);
  }

  stop(): void {
    clearInterval(this.ticker);
  }

  private get me(): string {
    return this.node.lease.owner;
  }

  private get nodeName(): string {
    return nodeOf(this.me);
  }

  isOnline(user: string): boolean {
    return this.state.sessions.has(user) || this.node.presence.online.has(user);
  }

  online(): Iterable<string> {
    const users = new Set(this.node.presence.online.keys());
    for (const name of this.state.sessions.keys()) users.add(name);
    return users;
  }

  lastSeen(): Iterable<[string, number]> {
    return [...this.node.presence.lastSeen].filter(([user]) => !this.state.sessions.has(user));
  }

  /**
   * After Redis restarted empty (or a cluster's first start), claims wait one lease while live nodes
   * re-assert their sessions (`settling`): the login waits with them, up to two leases.
   */
  async claim(user: string): Promise<Claimed> {
    const deadline = Date.now() + 2 * this.node.lease.leaseMs;
    // An earlier session here whose release is owed may still hold the key: this login takes it
    // over. Not paid meanwhile (it would end this claim); owed again if the login fails.
    const owed = this.owedReleases.delete(user);
    let claimed = false;
    try {
      for (;;) {
        const claim = await this.node.sessions.claim(user);
        if (claim.ok && (!claim.already || owed)) {
          claimed = true;
          return 'ok';
        }
        if (claim.ok || claim.reason !== 'settling') return 'taken';
        if (Date.now() > deadline) return 'busy';
        await Bun.sleep(this.node.lease.refreshMs);
      }
    } finally {
      if (owed && !claimed) this.owedReleases.add(user);
    }
  }

  unclaim(user: string): void {
    this.node.sessions.release(user).catch((err: unknown) => {
      if (err instanceof RedisUnavailableError && !this.state.sessions.has(user)) this.owedReleases.add(user);
      else this.state.log(`releasing ${user}'s session: ${String(err)}`);
    });
  }

  /** Tries the owed releases again (one round at a time); each that Redis takes is paid. */
  private async payReleases(): Promise<void> {
    if (this.releasing || this.owedReleases.size === 0) return;
    this.releasing = true;
    try {
      for (const user of [...this.owedReleases]) {
        // Logged in here again meanwhile: that session holds the name now.
        if (this.state.sessions.has(user) || !this.owedReleases.has(user)) continue;
        await this.node.sessions.release(user, { gone: true });
        this.owedReleases.delete(user);
      }
    } catch {
      // Redis still unreachable (the link says so once): next tick.
    } finally {
      this.releasing = false;
    }
  }

  direct(msg: StoredMessage, outcome: Outcome): void {
    const owner = this.node.presence.online.get(msg.to);
    const local = this.state.sessions.get(msg.to);
    if (local) return sendOnline(this.state, local, msg, outcome);
    if (owner === undefined || owner === this.me) {
      return store(this.state, msg, (code, id, text) => {
        outcome(code, id, text, msg);
        if (code === 'stored') this.afterStore(msg.to);
      }, `${msg.to} is offline and will get it at their next login`);
    }
    // Unique for ever: this node's epoch and a counter.
    const origin = `${this.me}:${++this.seq}`;
    const entry = this.deliverEntry({ ...msg, origin });
    this.node.watch(owner);
    this.handoffs.hand({ ...msg, origin }, owner, Date.now(), (fate: HandoffOutcome) => {
      this.node.unwatch(owner);
      if (fate === 'delivered') outcome('delivered', msg.id, undefined, msg);
      else if (fate === 'stored') outcome('stored', msg.id, `${msg.to} went offline; they will get it at their next login`, msg);
      else if (fate === 'blocked') outcome('blocked', msg.id, `Your message cannot be delivered: ${msg.to} has blocked you`, msg);
      else outcome('failed', msg.id, undefined, msg);
    });
    // Packed with the rest of this turn's entries for that node. Redis unreachable: the message
    // stays held and is stored after ackMs (CLU-4).
    this.node.queue(nodeOf(owner), entry);
  }

  private deliverEntry(msg: OriginMessage): Deliver {
    return { type: 'deliver', origin: msg.origin, key: msg.id, from: msg.from, to: msg.to, at: msg.at, body: msg.body, replyTo: this.nodeName };
  }

  /**
   * Redis restarted empty (CLU-4): entries handed to other nodes' inboxes, and their `delivered`
   * answers, may be gone with it, and messages whose entry could not be written at all wait here.
   * All are handed again now rather than stored after ackMs; the recipient shows a second copy once.
   */
  handAgain(): void {
    const again = this.handoffs.handAgain(Date.now());
    if (again.length > 0) this.state.log(`cluster: handing ${again.length} messages to other nodes again after the Redis reset`);
    for (const { msg, owner } of again) this.node.send(nodeOf(owner), this.deliverEntry(msg)).catch(() => {});
  }

  /**
   * BCAST-1: the users here get it at once, not through Redis; the other nodes through the events
   * stream (this node skips its own entry there). The sender hears the count once the other nodes
   * were told, or, if Redis could not be reached, that the users there were not reached yet: their
   * copy waits and goes out when Redis answers (CLU-4).
   */
  broadcast(from: string, id: number, at: number, body: string): Promise<BroadcastResult> {
    let elsewhere = 0;
    let skippedThere = 0;
    for (const user of this.node.presence.online.keys()) {
      if (user === from || this.state.sessions.has(user)) continue;
      if (this.state.isBlocking(user, from)) skippedThere++;
      else elsewhere++;
    }
    // Throws (answered `busy`, nothing written) when too many wait for Redis already.
    const published = this.outbox.add({ key: id, from, at, body });
    const here = broadcastHere(this.state, from, id, at, body);
    return published.then((told) => ({
      reached: here.reached + (told ? elsewhere : 0),
      skipped: here.skipped + skippedThere,
      ...(!told && elsewhere > 0 && { pending: elsewhere }),
    }));
  }

  /** The node is stopping: broadcasts still waiting for Redis get one last try. */
  closeBroadcasts(): Promise<void> {
    return this.outbox.close();
  }

  /** Logins and logouts are written to the events stream by the session scripts; a logout releases the claim. */
  presence(user: string, online: boolean): void {
    if (!online) this.unclaim(user);
  }

  askPrivate(from: string, to: string): Promise<PrivateRefusal | undefined> {
    return this.privateChats.ask(from, to);
  }

  privateNotice(notice: PrivateNotice): void {
    this.privateChats.notice(notice);
  }

  /** A block list changed here: every node applies the change (in stream order, before later presence). */
  blocksChanged(blocker: string, blocked: string, on: boolean): void {
    this.node.publish({ type: 'blocks', blocker, blocked, on }).catch((err: unknown) => this.state.log(`telling the nodes of ${blocker}'s blocks: ${String(err)}`));
  }

  /** After a message to `to` was stored: if `to` came online meanwhile on another node, it sends the stored backlog. */
  private afterStore(to: string): void {
    const owner = this.node.presence.online.get(to);
    if (owner === undefined || owner === this.me) return;
    this.node.send(nodeOf(owner), { type: 'backlog', user: to }).catch(() => {});
  }

  onInbox(entry: InboxEntry): void {
    switch (entry.type) {
      case 'deliver':
        return this.deliverHere(entry);
      case 'delivered':
        return this.handoffs.delivered(entry.origins);
      case 'refused':
        void this.handoffs.refused(entry.origin, entry.reason, Date.now());
        return;
      case 'private':
        return receivePrivate(this.state, entry.notice);
      case 'private-ask':
        return this.privateChats.onAsk(entry);
      case 'private-answer':
        return this.privateChats.onAnswer(entry);
      case 'backlog': {
        const session = this.state.sessions.get(entry.user);
        // A session whose backlog is being paged reads the new ones with its next page.
        if (session && session.backlog === undefined) void sendBacklog(this.state, session);
        return;
      }
    }
  }

  /** A message handed here for one of this node's users: the block check runs here, the id is stamped here (the key stays, CLU-3). */
  private deliverHere(entry: Deliver): void {
    const session = this.state.sessions.get(entry.to);
    // Replies are packed per node and turn; one lost is a message its sender's node stores after ackMs.
    const reply = (message: Packable) => this.node.queue(entry.replyTo, message);
    // CLU-5: a node that may have lost its lease (paused, cut off) writes to nobody: the user may be
    // logged in on another node by now. The sender's node stores the message instead.
    if (!session || !this.node.lease.mayServe()) return void reply({ type: 'refused', origin: entry.origin, reason: 'offline' });
    if (this.state.isBlocking(entry.to, entry.from)) return void reply({ type: 'refused', origin: entry.origin, reason: 'blocked' });
    // A node from before keys sent none: the message gets its key here.
    const msg: StoredMessage = { id: entry.key ?? this.state.ids.take(), from: entry.from, to: entry.to, at: entry.at, body: entry.body };
    // Not acknowledged here in time, or the session ended: handed back, and the sender's node stores it by its origin key.
    sendOnline(this.state, session, msg, (code) => {
      if (code === 'delivered') void reply({ type: 'delivered', origins: [entry.origin] });
    }, Date.now(), () => void reply({ type: 'refused', origin: entry.origin, reason: 'offline' }));
  }

  onEvent(entry: EventEntry, change: PresenceChange): void {
    if (entry.type === 'login' || entry.type === 'logout') {
      if (change) announce(this.state, entry.user, change === 'login');
      // A user of a node that died says nothing to their private-chat peers: they are told here
      // (after a normal logout its node's notices, sent before the logout, normally came first and this finds nothing left).
      if (change === 'logout') privatePeerGone(this.state, entry.user);
      return;
    }
    if (entry.type === 'broadcasts') {
      // This node's own: its users had them when they were sent.
      if (entry.node === this.nodeName) return;
      for (const item of entry.items) {
        // One id for every connection here: all are written now, in this turn (CLU-3).
        const id = this.state.ids.take();
        const key = item.key ?? id;
        const line = encodeMessage('broadcast', id, item.from, item.at, item.body, false, key);
        const msg: StoredMessage = { id: key, from: item.from, to: '', at: item.at, body: item.body };
        for (const session of this.state.sessions.values()) {
          if (session.name === item.from || this.state.isBlocking(session.name, item.from)) continue;
          holdOrSend(session, line, msg);
        }
      }
      return;
    }
    if (entry.type !== 'blocks') return;
    if (entry.blocked === undefined || entry.on === undefined) return void this.reloadBlocks(entry.blocker);
    if (entry.on) this.state.blockSet(entry.blocker).add(entry.blocked);
    else this.state.blocks.get(entry.blocker)?.delete(entry.blocked);
  }

  private async reloadBlocks(blocker: string): Promise<void> {
    try {
      const all = await this.state.store.blocks();
      const set = new Set(all.filter(([b]) => b === blocker).map(([, blocked]) => blocked));
      if (set.size === 0) this.state.blocks.delete(blocker);
      else this.state.blocks.set(blocker, set);
    } catch (err) {
      this.state.log(`reloading ${blocker}'s blocks: ${String(err)}`);
    }
  }
}

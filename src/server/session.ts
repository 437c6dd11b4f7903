// A logged-in user: from the welcome line to the end of the connection, however it ends.

import type { StoredMessage } from '../store/store.ts';
import type { TimerId } from '../util/timer-wheel.ts';
import type { CloseReason, Conn } from './connection.ts';
import { loggedIn } from './admission.ts';
import { sendBacklog, requeueUnacked } from './messaging.ts';
import { closePrivateChats } from './private.ts';
import type { ServerState } from './state.ts';

/**
 * Tells a sender what became of a message once that is known. `msg` is the message itself: a
 * direct message accepted here carries its sender (messaging.ts, DirectMessage), so one shared
 * function serves every message instead of a closure each.
 */
export type Outcome = (code: 'delivered' | 'stored' | 'blocked' | 'failed', id: number, text: string | undefined, msg: StoredMessage) => void;

/**
 * A routed message written to this connection and neither acknowledged nor stored yet. They form
 * a queue in the order written, which is id order (Session.firstUnacked, `next`): an ack takes
 * them from its head, with no Map, iterator or entry array per message (hot path, issue 14).
 */
export interface Unacked {
  readonly msg: StoredMessage;
  /** When it was written (its acceptance time when written in that turn). */
  sentAt: number;
  readonly outcome?: Outcome;
  /** A message handed here by another node: not stored here but handed back, and its node stores it once. */
  readonly handBack?: () => void;
  /** The id it was written with (acks name it); its key is msg.id (CLU-3). */
  sentId: number;
  next: Unacked | undefined;
}

/** A message or broadcast for a user whose stored backlog is still being paged (SEC-6); stamped when written. */
export interface Held {
  readonly msg: StoredMessage;
  /** A broadcast: written, never kept for an ack nor stored. */
  readonly broadcast?: true;
  readonly outcome?: Outcome;
  readonly handBack?: () => void;
}

/** While the stored backlog goes out in pages (SEC-6): Session.backlog. */
export interface Backlog {
  /** The id of the last page's last line, once a page short of the whole backlog is out… */
  to: number | undefined;
  /** …and the key of its last message, where the next page starts. */
  after: number | undefined;
  /** Meanwhile, new messages and broadcasts for this user, in id order, and their size. */
  held: Held[];
  heldBytes: number;
}

/** A session's private chats (P2P-*): Session.p2pPort, privatePeers, privateRequests. */
interface PrivateChats {
  port: number | undefined;
  peers: Set<string> | undefined;
  requests: Set<string> | undefined;
}

/**
 * 19,000 idle users each hold one (B3), so what only some sessions need for a while (the backlog
 * being paged, private chats, stored messages awaiting an ack) is in objects made at first use:
 * an idle session keeps 12 fields, JSC's 112-byte size class (13 to 18 fields take 160).
 */
export class Session {
  lastActive: number;
  inactivityTimer: TimerId;
  ackTimer: TimerId | undefined;
  // Ids here are the ids written to this connection (acks name them); a message's key is msg.id (CLU-3).
  #stored: Map<number, number> | undefined;
  #private: PrivateChats | undefined;
  /** The messages written here and not acknowledged (nor stored) yet, oldest first (Unacked.next). */
  firstUnacked: Unacked | undefined;
  lastUnacked: Unacked | undefined;
  /** Highest message id written to this connection. */
  maxSentId = 0;
  /** Highest id acknowledged. */
  ackedUpTo = 0;
  /** Defined while the stored backlog goes out in pages: new messages wait in it (SEC-6). */
  backlog: Backlog | undefined;

  constructor(
    readonly name: string,
    readonly conn: Conn,
    loginAt: number,
    inactivityTimer: TimerId,
  ) {
    this.lastActive = loginAt;
    this.inactivityTimer = inactivityTimer;
  }

  /** This user's messages that sit in the store and were written here unacknowledged: id -> key. */
  get stored(): Map<number, number> {
    return (this.#stored ??= new Map());
  }
  /** True when `stored` has any (without making it). */
  get hasStored(): boolean {
    return this.#stored !== undefined && this.#stored.size > 0;
  }
  /** Port of the user's private-chat listener (P2P-1), once the client has said. */
  get p2pPort(): number | undefined {
    return this.#private?.port;
  }
  set p2pPort(port: number | undefined) {
    this.#privateChats().port = port;
  }
  /** Users this one has an open private chat with. */
  get privatePeers(): Set<string> {
    return (this.#privateChats().peers ??= new Set());
  }
  /** Keys of pending private-chat requests this user made or received. */
  get privateRequests(): Set<string> {
    return (this.#privateChats().requests ??= new Set());
  }
  /** True when the user has a private chat or a pending request (without making the sets). */
  get hasPrivateChats(): boolean {
    const chats = this.#private;
    return chats !== undefined && ((chats.peers?.size ?? 0) > 0 || (chats.requests?.size ?? 0) > 0);
  }

  #privateChats(): PrivateChats {
    return (this.#private ??= { port: undefined, peers: undefined, requests: undefined });
  }
}

/**
 * Registers `user` as online on `conn`, sends the welcome, the stored messages, then tells the others
 * (AUTH-6). Resolves when the first page of stored messages has been written.
 */
export function startSession(state: ServerState, conn: Conn, user: string, welcome: () => void): Promise<void> {
  const now = state.now();
  const session = new Session(user, conn, now, scheduleInactivity(state, conn, state.config.timeoutMs));
  state.sessions.set(user, session);
  state.lastSeen.delete(user);
  state.failures.delete(user);
  conn.session = session;
  loggedIn(state, conn);
  welcome();
  const backlog = sendBacklog(state, session);
  state.delivery.presence(user, true);
  state.log(`login ${user} from ${conn.address}`);
  return backlog;
}

/** SESS-1: every command the user types counts as activity. */
export function touch(state: ServerState, session: Session): void {
  session.lastActive = state.now();
}

// The timer is not moved on every command: when it fires it checks lastActive and, if the user
// was active since, sleeps again for the rest of the timeout. Activity itself costs one store.
// One function per server for every user's timer, given the connection (not a closure per user).
function scheduleInactivity(state: ServerState, conn: Conn, delayMs: number): TimerId {
  let check = inactivityChecks.get(state);
  if (!check) {
    check = (conn: Conn) => {
      const session = conn.session;
      if (!session || conn.closed) return;
      const idle = state.now() - session.lastActive;
      if (idle >= state.config.timeoutMs) {
        conn.bye('timeout', `Logged out after ${state.config.timeoutMs / 1000} s without activity`);
      } else {
        session.inactivityTimer = scheduleInactivity(state, conn, state.config.timeoutMs - idle);
      }
    };
    inactivityChecks.set(state, check);
  }
  return state.wheel.schedule(delayMs, check, conn);
}

const inactivityChecks = new WeakMap<ServerState, (conn: Conn) => void>();

/** Runs once when a logged-in connection closes, for any reason (SESS-4: a vanished client is a logout). */
export function endSession(state: ServerState, session: Session, reason: CloseReason): void {
  const { name } = session;
  if (state.sessions.get(name) !== session) return;
  state.wheel.cancel(session.inactivityTimer);
  if (session.ackTimer !== undefined) state.wheel.cancel(session.ackTimer);
  state.sessions.delete(name);
  state.lastSeen.set(name, state.now());
  requeueUnacked(state, session);
  closePrivateChats(state, session, reason);
  state.delivery.presence(name, false);
  state.log(`logout ${name} (${reason})`);
}

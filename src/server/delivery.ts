// The one way handlers reach users other than the one whose command they run: direct messages,
// broadcasts, presence, private-chat notices, and who is online. A single node is a cluster of one
// (local-delivery.ts); several nodes route through Redis instead. Handlers do not know which.

import type { StoredMessage } from '../store/store.ts';
import type { PrivateNotice, PrivateRefusal } from './private.ts';
import type { Outcome } from './session.ts';

export interface BroadcastResult {
  /** Users the broadcast was written (or handed) to. */
  readonly reached: number;
  /** Users skipped because they block the sender (BCAST-1: the sender is told, without names). */
  readonly skipped: number;
  /**
   * Users online on other nodes that could not be told yet (Redis unreachable): they get it once
   * the node reaches the cluster again. Absent or 0 when everyone was reached.
   */
  readonly pending?: number;
}

/** A login's claim on a username: `taken` (online, AUTH-5), `busy` (try again in a moment). */
export type Claimed = 'ok' | 'taken' | 'busy';

export interface Delivery {
  /** AUTH-5: makes `user` this connection's, unless it is online (anywhere). */
  claim(user: string): Promise<Claimed>;
  /** Gives a claim back when the login did not go through after all (the connection closed meanwhile). */
  unclaim(user: string): void;
  /** `blocker` blocked (`on`) or unblocked `blocked` here (other nodes update their copy). */
  blocksChanged?(blocker: string, blocked: string, on: boolean): void;
  /** Whether `user` is logged in (anywhere). */
  isOnline(user: string): boolean;
  /** Everyone logged in now (anywhere), in no particular order (PRES-2). */
  online(): Iterable<string>;
  /** Users now offline and when they were last online (PRES-3). */
  lastSeen(): Iterable<[string, number]>;
  /**
   * MSG-1/OFF-1: `msg` goes to its recipient now, or is stored for the next login; `outcome` tells
   * the sender which (`delivered` after the recipient's ack, `stored` after the commit). The caller
   * has checked the recipient's blocks.
   */
  direct(msg: StoredMessage, outcome: Outcome): void;
  /** BCAST-1: every online user but the sender and those who block the sender (in a cluster: once the other nodes were told, or could not be). */
  broadcast(from: string, id: number, at: number, body: string): BroadcastResult | Promise<BroadcastResult>;
  /** PRES-1: `user` logged in or out; everyone else online is told, but those `user` blocks. */
  presence(user: string, online: boolean): void;
  /** P2P-2: `from` asks `to` for a private chat; the node holding `to` records it (askedPrivate) or refuses. */
  askPrivate(from: string, to: string): Promise<PrivateRefusal | undefined>;
  /** P2P-2/4/5: one side of a private chat tells the other, on the node holding `notice.to` (receivePrivate). */
  privateNotice(notice: PrivateNotice): void;
}

// Delivery on a single node: every user is in this process's ServerState.sessions, so a message is
// written to its recipient's connection or stored, and presence and broadcasts go to the sessions here.

import type { StoredMessage } from '../store/store.ts';
import type { BroadcastResult, Claimed, Delivery } from './delivery.ts';
import { broadcastHere, sendOnline, store } from './messaging.ts';
import { announce } from './presence.ts';
import { askedPrivate, receivePrivate, type PrivateNotice, type PrivateRefusal } from './private.ts';
import type { Outcome } from './session.ts';
import type { ServerState } from './state.ts';

export class LocalDelivery implements Delivery {
  constructor(private readonly state: ServerState) {}

  async claim(user: string): Promise<Claimed> {
    return this.state.sessions.has(user) ? 'taken' : 'ok';
  }

  unclaim(): void {}

  isOnline(user: string): boolean {
    return this.state.sessions.has(user);
  }

  online(): Iterable<string> {
    return this.state.sessions.keys();
  }

  lastSeen(): Iterable<[string, number]> {
    return this.state.lastSeen;
  }

  direct(msg: StoredMessage, outcome: Outcome): void {
    const target = this.state.sessions.get(msg.to);
    if (target) sendOnline(this.state, target, msg, outcome);
    else store(this.state, msg, outcome, `${msg.to} is offline and will get it at their next login`);
  }

  broadcast(from: string, id: number, at: number, body: string): BroadcastResult {
    return broadcastHere(this.state, from, id, at, body);
  }

  presence(user: string, online: boolean): void {
    announce(this.state, user, online);
  }

  async askPrivate(from: string, to: string): Promise<PrivateRefusal | undefined> {
    return askedPrivate(this.state, from, to);
  }

  privateNotice(notice: PrivateNotice): void {
    receivePrivate(this.state, notice);
  }
}

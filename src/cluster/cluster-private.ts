// Private-chat brokering across nodes (P2P-2, P2P-4, P2P-5): the handlers of server/private.ts run
// unchanged on every node; what one side tells the other goes to the other user's node inbox, where
// the same functions (askedPrivate, receivePrivate) run. A request is kept on the asked user's node,
// so accept and lapse are decided in one place without a Redis key.

import { ErrorCode } from '../protocol/errors.ts';
import { askedPrivate, receivePrivate, type PrivateNotice, type PrivateRefusal } from '../server/private.ts';
import type { ServerState } from '../server/state.ts';
import type { ClusterNode } from './cluster-node.ts';
import type { PrivateAnswer, PrivateAsk } from './node-messages.ts';

/** How long a `startprivate` waits for the other node's answer (it died, or Redis is cut off). */
const ASK_MS = 5000;

/** `<node>#<epoch>` -> `<node>`. */
function nodeOf(owner: string): string {
  return owner.slice(0, owner.lastIndexOf('#'));
}

export class ClusterPrivate {
  private seq = 0;
  /** Asks sent to other nodes, waiting for their answer, by id. */
  private readonly asks = new Map<string, (refusal: PrivateRefusal | undefined) => void>();

  constructor(
    private readonly state: ServerState,
    private readonly node: ClusterNode,
  ) {}

  /** The node (name) holding `user`'s session, when it is another node. */
  private remoteNode(user: string): string | undefined {
    if (this.state.sessions.has(user)) return undefined;
    const owner = this.node.presence.online.get(user);
    return owner === undefined || owner === this.node.lease.owner ? undefined : nodeOf(owner);
  }

  ask(from: string, to: string): Promise<PrivateRefusal | undefined> {
    const node = this.remoteNode(to);
    if (node === undefined) return Promise.resolve(askedPrivate(this.state, from, to));
    const id = String(++this.seq);
    const unanswered: PrivateRefusal = { code: ErrorCode.Busy, text: `${to}'s server did not answer; try again in a moment` };
    return new Promise((resolve) => {
      const settle = (refusal: PrivateRefusal | undefined) => {
        clearTimeout(timer);
        this.asks.delete(id);
        resolve(refusal);
      };
      const timer = setTimeout(() => settle(unanswered), ASK_MS);
      this.asks.set(id, settle);
      const entry: PrivateAsk = { type: 'private-ask', id, from, to, replyTo: nodeOf(this.node.lease.owner) };
      this.node.send(node, entry).catch(() => settle(unanswered));
    });
  }

  notice(notice: PrivateNotice): void {
    const node = this.remoteNode(notice.to);
    if (node === undefined) return receivePrivate(this.state, notice);
    this.node.send(node, { type: 'private', notice }).catch((err: unknown) => this.state.log(`a private-chat notice to ${notice.to} was lost: ${String(err)}`));
  }

  /** A `private-ask` for a user of this node: put to them (or refused), and answered. */
  onAsk(entry: PrivateAsk): void {
    // CLU-5: a node that may have lost its lease puts nothing to its users.
    const refusal = this.node.lease.mayServe() ? askedPrivate(this.state, entry.from, entry.to) : { code: ErrorCode.Offline, text: `${entry.to} is not online` };
    const answer: PrivateAnswer = refusal ? { type: 'private-answer', id: entry.id, refusal } : { type: 'private-answer', id: entry.id };
    this.node.send(entry.replyTo, answer).catch(() => {});
  }

  onAnswer(entry: PrivateAnswer): void {
    this.asks.get(entry.id)?.(entry.refusal);
  }
}

// A server joins a cluster: its Redis side (ClusterNode) is started with callbacks into the server's
// state, and ClusterDelivery replaces the single node's LocalDelivery. Fencing (CLU-5) closes every
// session; a Redis that restarted empty gets this node's sessions re-asserted (CLU-4).

import { redactUrl } from '../util/redact-url.ts';
import { describeMessages } from '../server/offline-queue.ts';
import type { ServerState } from '../server/state.ts';
import { ClusterDelivery } from './cluster-delivery.ts';
import { ClusterNode } from './cluster-node.ts';
import { Keys } from './keys.ts';
import { ClusterLockout } from './lockout.ts';

export interface ClusterOptions {
  /** redis://… */
  readonly url: string;
  /** This node's name (unique among live nodes). */
  readonly node: string;
  /** Key prefix (tests run several clusters on one Redis). */
  readonly prefix?: string;
  readonly leaseMs?: number;
  readonly refreshMs?: number;
}

export interface JoinedCluster {
  readonly node: ClusterNode;
  readonly delivery: ClusterDelivery;
  /**
   * At a stop: what was handed to other nodes and not yet confirmed is stored (once, by origin key),
   * tried until `deadline` while the store is unreachable; what still is not is logged, one line.
   */
  storeHandoffs(deadline: number): Promise<void>;
  /** A clean stop: the lease is given up, so the other nodes clear this node's sessions at once. */
  leave(): Promise<void>;
}

/** Between tries of storing handed-off messages at a stop. */
const SHUTDOWN_RETRY_MS = 250;

export async function joinCluster(state: ServerState, options: ClusterOptions): Promise<JoinedCluster> {
  const where = redactUrl(options.url);
  let delivery: ClusterDelivery | undefined;
  const node = new ClusterNode({
    url: options.url,
    node: options.node,
    keys: new Keys(options.prefix ?? 'chat:'),
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    ...(options.refreshMs !== undefined && { refreshMs: options.refreshMs }),
    log: (line) => state.log(line.replace(options.url, where)),
    onLost: (why) => {
      // CLU-5: another node may serve these users now; none of them may stay online here.
      state.log(`cluster: node ${options.node} was fenced (${why}); closing its ${state.sessions.size} sessions`);
      for (const session of [...state.sessions.values()]) session.conn.bye('shutdown', 'This server lost its place in the cluster; reconnect');
    },
    onReset: () => {
      state.log(`cluster: Redis ${where} restarted empty; re-asserting ${state.sessions.size} sessions`);
      for (const name of state.sessions.keys()) void node.sessions.claim(name, { reassert: true }).catch(() => {});
      // What was handed to other nodes may be gone from their inboxes: handed again now, not stored after ackMs.
      delivery?.handAgain();
    },
    onInbox: (entry) => delivery?.onInbox(entry),
    onEvent: (entry, change) => delivery?.onEvent(entry, change),
    onOwnersDead: (owners) => {
      for (const owner of owners) void delivery?.handoffs.ownerDead(owner, Date.now());
    },
  });
  try {
    await node.start();
  } catch (err) {
    throw new Error(`cannot join the cluster at ${where}: ${(err as Error).message.replace(options.url, where)}`);
  }
  state.log(`cluster: Redis ${where} reachable; serving as node ${options.node}`);
  state.mayServe = () => node.lease.mayServe();
  state.lockout = new ClusterLockout(node.link, node.keys, { blockMs: state.config.blockDurationMs });
  delivery = new ClusterDelivery(state, node);
  delivery.start();
  state.delivery = delivery;
  const joined = delivery;
  const storeHandoffs = async (deadline: number) => {
    joined.stop();
    // Not yet confirmed by the nodes they were handed to: stored, once, before this node goes. A
    // `delivered` read meanwhile spares storing one.
    await joined.handoffs.storeAll(Date.now());
    let tries = 1;
    while (joined.handoffs.unstored().length > 0 && Date.now() < deadline) {
      if (tries++ === 1) state.log(`cluster: stopping; storing ${joined.handoffs.unstored().length} messages handed to other nodes, trying for up to ${Math.ceil((deadline - Date.now()) / 1000)} s`);
      await Bun.sleep(SHUTDOWN_RETRY_MS);
      await joined.handoffs.tick(Date.now());
    }
    const left = joined.handoffs.unstored();
    if (left.length > 0) state.log(`cluster: stopping; NOT STORED (the store is unreachable): ${left.length} messages handed to other nodes and not confirmed delivered, which may be lost: ${describeMessages(left)}`);
    else if (tries > 1) state.log('cluster: stopping; the messages handed to other nodes are stored');
  };
  return {
    node,
    delivery: joined,
    storeHandoffs,
    async leave() {
      // Once more (a stop stored them already, or gave up and said so).
      if (joined.handoffs.unstored().length > 0) await joined.handoffs.storeAll(Date.now());
      await joined.closeBroadcasts();
      await node.stop();
    },
  };
}

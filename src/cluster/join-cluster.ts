// A server joins a cluster: its Redis side (ClusterNode) is started with callbacks into the server's
// state, and ClusterDelivery replaces the single node's LocalDelivery. Fencing (CLU-5) closes every
// session; a Redis that restarted empty gets this node's sessions re-asserted (CLU-4).

import { redactUrl } from '../util/redact-url.ts';
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
  /** A clean stop: the lease is given up, so the other nodes clear this node's sessions at once. */
  leave(): Promise<void>;
}

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
  return {
    node,
    delivery: joined,
    async leave() {
      joined.stop();
      // Not yet confirmed by the nodes they were handed to: stored, once, before this node goes.
      await joined.handoffs.storeAll(Date.now());
      await node.stop();
    },
  };
}

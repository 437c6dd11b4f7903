// `bun bench/cluster-parts.ts [--rounds N]`: what each cluster building block costs, one call at a
// time on loopback against its own redis-server and PostgreSQL (the same helpers the tests use).
// Prints median and p99 per operation. Not yet part of `bun run bench`: the cluster scenario (nodes,
// users, messages) comes with the server integration.

import { parseArgs } from 'node:util';
import { Keys } from '../src/cluster/keys.ts';
import { NodeLease } from '../src/cluster/lease.ts';
import { ClusterLockout } from '../src/cluster/lockout.ts';
import { RedisLink } from '../src/cluster/redis-link.ts';
import { SessionRegistry } from '../src/cluster/sessions.ts';
import { append, StreamReader } from '../src/cluster/streams.ts';
import { PostgresStore } from '../src/store/postgres-store.ts';
import { PostgresEngine, postgresMissing, RedisEngine, redisMissing } from '../tests/helpers/engines.ts';

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rounds: { type: 'string', default: '2000' } } });
const rounds = Number(values.rounds);

const rows: string[][] = [['operation', 'median ms', 'p99 ms', 'ops/s (one at a time)']];

async function measure(name: string, n: number, op: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < Math.min(50, n); i++) await op(-1 - i); // warm up
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    times.push(performance.now() - t);
  }
  const total = performance.now() - started;
  times.sort((a, b) => a - b);
  const at = (q: number) => (times[Math.min(times.length - 1, Math.floor(q * times.length))] as number).toFixed(3);
  rows.push([name, at(0.5), at(0.99), Math.round((n / total) * 1000).toString()]);
}

const missing = [redisMissing(), postgresMissing()].filter(Boolean);
if (missing.length > 0) {
  console.error(`cluster-parts: ${missing.join('; ')}`);
  process.exit(1);
}

const redis = await RedisEngine.start();
const pg = await PostgresEngine.start();
try {
  const keys = new Keys('bench:');
  const link = new RedisLink(redis.url);
  const lease = new NodeLease(link, keys, 'n1', { leaseMs: 60_000 });
  await lease.tick();
  await link.call('DEL', [keys.settling]);
  const sessions = new SessionRegistry(link, keys, () => lease.owner);
  const lockout = new ClusterLockout(link, keys, { blockMs: 1 });

  await measure('redis PING (floor)', rounds, () => link.call('PING', []));
  await measure('lease refresh (Lua)', rounds, () => lease.tick());
  await measure('session claim + release (2 Lua, 2 XADD)', rounds, async (i) => {
    await sessions.claim(`u${i}`);
    await sessions.release(`u${i}`);
  });
  await measure('lockout begin + succeed (2 Lua)', rounds, async (i) => {
    await lockout.begin(`u${i}`);
    await lockout.succeed(`u${i}`);
  });

  // XADD on one link, handled by a blocked reader on another: the node-to-node hop.
  let handled: (() => void) | undefined;
  const reader = new StreamReader(new RedisLink(redis.url), new Map([[keys.inbox('n2'), '0-0']]), () => handled?.());
  reader.start();
  await measure('stream hop: XADD -> XREAD BLOCK handler', rounds, async () => {
    const done = new Promise<void>((resolve) => (handled = resolve));
    await append(link, keys.inbox('n2'), { m: 'x' });
    await done;
  });
  await reader.stop();

  const store = await PostgresStore.open(await pg.createDatabase());
  let id = 1;
  const message = (i: number) => ({ id: id++, from: 'hans', to: `u${i % 100}`, at: Date.now(), body: 'hello there' });
  const pgRounds = Math.max(100, Math.floor(rounds / 4));
  await measure('postgres commit, 1 message', pgRounds, async (i) => store.commit([message(i)], []));
  await measure('postgres storeOnce, 1 message', pgRounds, async (i) => store.storeOnce([{ ...message(i), origin: `n1:${id}` }]));
  await measure('postgres storeOnce, 100 messages', Math.max(20, pgRounds / 10), async (i) =>
    store.storeOnce(Array.from({ length: 100 }, () => ({ ...message(i), origin: `n1:${id}` }))),
  );
  await measure('postgres reserveIds(1000)', pgRounds, () => store.reserveIds(1000));
  await measure('postgres messagesFor (a few hundred waiting)', Math.max(20, pgRounds / 10), (i) => store.messagesFor(`u${Math.abs(i) % 100}`));
  await store.close();
  link.close();
} finally {
  await redis.stop();
  await pg.stop();
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));

// CLU-4 under load, Redis: Redis is killed with SIGKILL and started again empty on the same port
// while senders on two nodes message users on both nodes and users who are offline, three rounds.
// The nodes notice the reset (a new `chat:generation`), take their leases again and re-assert their
// sessions; messages in flight between nodes are held by their senders and stored after ackMs. After
// each round: every user online is owned by exactly one node in Redis and cannot log in on the other,
// and whoelse on both nodes agrees. At the end every message whose sender was told `delivered` or
// `stored` is shown to its recipient exactly once, at once or at the next login.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RedisClient, type Subprocess } from 'bun';
import { ENGINE_START_MS, freePort, PostgresEngine, postgresMissing, RedisEngine, redisMissing, skipUnless } from '../helpers/engines.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { tempDir } from '../helpers/test-server.ts';
import { spawnServe } from '../helpers/serve-process.ts';
import { allArrived, count, describeCount, FAULT_CREDENTIALS, FAULT_PASSWORDS, logIn, Sender, until } from './fault-kit.ts';

const skip = skipUnless(import.meta.path, redisMissing(), postgresMissing());
const ROUNDS = 3;
/** Senders on each node. */
const SENDERS: readonly (readonly string[])[] = [
  ['hans', 'vader'],
  ['yoda', 'lando'],
];
/** Recipients online, one on each node. */
const ONLINE = ['leia', 'luke'];
/** Recipients who stay offline until the end: what is sent to them is stored. */
const OFFLINE = ['obiwan', 'padme'];

let pg: PostgresEngine | undefined;
let redis: RedisEngine | undefined;
const procs: Subprocess[] = [];
beforeAll(async () => {
  if (skip) return;
  [pg, redis] = await Promise.all([PostgresEngine.start(), RedisEngine.start()]);
}, ENGINE_START_MS);
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await Promise.all([pg?.stop(), redis?.stop()]);
});

async function startNode(port: number, store: string, name: string, credentials: string): Promise<void> {
  const { proc } = await spawnServe([String(port), '60', '300', '--host', '127.0.0.1', '--credentials', credentials, '--rate-limit', '0', '--max-per-address', '0', '--max-auth-failures', '0', '--offline-quota', '0', '--offline-quota-bytes', '0', '--cluster', (redis as RedisEngine).url, '--store', store, '--node', name]);
  procs.push(proc);
}

/** What a second login of `user` on `port` is told (waiting while the node settles after a reset). */
async function secondLogin(port: number, user: string): Promise<string> {
  let code = 'busy';
  await until(async () => {
    const c = await RawClient.connect(port);
    await c.request(`login ${user}`);
    code = String((await c.request(`password ${FAULT_PASSWORDS[user]}`)).code);
    c.kill();
    return code !== 'busy';
  }, `a second login of ${user}`);
  return code;
}

/** The users whoelse lists to `client`, and the client's own name. */
async function whoelse(client: RawClient, me: string): Promise<string[]> {
  const reply = await client.request('whoelse');
  return [...(reply.users as string[]), me].sort();
}

describe.skipIf(skip)('CLU-4 Redis killed and started again empty, under load', () => {
  test(`SIGKILL of Redis, ${ROUNDS} rounds: leases and sessions re-asserted, presence agrees, nothing told delivered or stored is lost or shown twice`, async () => {
    const store = await (pg as PostgresEngine).createDatabase();
    const credentials = join(tempDir(), 'credentials.txt');
    writeFileSync(credentials, FAULT_CREDENTIALS);
    const ports = [freePort(), freePort()];
    await startNode(ports[0] as number, store, 'n1', credentials);
    await startNode(ports[1] as number, store, 'n2', credentials);
    const connections = new Map<string, RawClient[]>([...ONLINE, ...OFFLINE].map((u) => [u, []]));
    for (const [i, user] of ONLINE.entries()) connections.get(user)?.push(await logIn(ports[i] as number, user));
    const senderClients = await Promise.all(SENDERS.flatMap((names, i) => names.map(async (n) => [n, await logIn(ports[i] as number, n)] as const)));
    const everyone = [...ONLINE, ...SENDERS.flat()].sort();
    // Both nodes know everyone before the load starts (each sender sees the others and the recipients).
    for (const [name, c] of senderClients) await until(async () => (await whoelse(c, name)).join() === everyone.join(), `${name} to see everyone`);
    /** Which node each user online is on. */
    const nodeOf = new Map<string, string>([...ONLINE.map((u, i) => [u, `n${i + 1}`] as const), ...SENDERS.flatMap((names, i) => names.map((n) => [n, `n${i + 1}`] as const))]);
    const senders: Sender[] = [];
    const notes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const admin = new RedisClient((redis as RedisEngine).url);
      const generation = await admin.get('chat:generation');
      admin.close();
      expect(generation).not.toBeNull();
      const roundSenders = senderClients.map(([name, c], s) => new Sender(c, `r${round}s${s}`, [...ONLINE, ...OFFLINE]));
      senders.push(...roundSenders);
      // Messages flow both ways between the nodes: each sender heard `delivered` from the other node's recipient.
      const flowing = (since: number) => roundSenders.every((s, i) => s.heard('delivered', since, ONLINE.filter((u) => nodeOf.get(u) !== nodeOf.get(senderClients[i]?.[0] as string))) >= 5);
      await until(() => flowing(0), 'messages between the nodes');
      await (redis as RedisEngine).kill();
      await (redis as RedisEngine).restart();
      const restartedAt = Date.now();
      await until(() => flowing(restartedAt), 'messages between the nodes after the restart');
      // A new generation tells the nodes Redis was reset; each re-asserts its sessions.
      const fresh = new RedisClient((redis as RedisEngine).url);
      const owners = async () => {
        const out: string[] = [];
        for (const user of [...nodeOf.keys()].sort()) out.push(`${user}@${String(await fresh.get(`chat:session:${user}`)).split('#')[0]}`);
        return out.join(' ');
      };
      const expected = [...nodeOf].sort().map(([u, n]) => `${u}@${n}`).join(' ');
      await until(async () => (await owners()) === expected, `the sessions re-asserted (${await owners()})`);
      const after = await fresh.get('chat:generation');
      expect(after).not.toBeNull();
      expect(after).not.toBe(generation);
      const recoveredMs = Date.now() - restartedAt;
      await Promise.all(roundSenders.map((s) => s.stop()));
      // No user online twice: each one online is refused on the other node.
      for (const [i, user] of ONLINE.entries()) {
        const other = ports[1 - i] as number;
        expect(await secondLogin(other, user)).toBe('already-online');
      }
      // Presence: both nodes list the same users, and the right ones.
      const lists = await Promise.all(senderClients.map(([name, c]) => whoelse(c, name)));
      for (const list of lists) expect(list).toEqual(everyone);
      notes.push(`round ${round}: sessions re-asserted and messages between the nodes ${recoveredMs} ms after the restart, ${roundSenders.reduce((n, s) => n + s.heard('stored', restartedAt), 0)} told stored after it`);
      fresh.close();
    }
    // Everyone who was sent something logs in again (on the other node) and is given what was stored.
    for (const [i, user] of ONLINE.entries()) {
      const old = connections.get(user)?.at(-1) as RawClient;
      old.end();
      await old.waitClosed(5000);
      connections.get(user)?.push(await logIn(ports[1 - i] as number, user));
    }
    for (const [i, user] of OFFLINE.entries()) connections.get(user)?.push(await logIn(ports[i] as number, user));
    for (const [user, conns] of connections) await allArrived(senders, user, conns);
    const c = count(senders, connections);
    console.log(describeCount(`CLU-4 redis-restart (${ROUNDS} rounds)`, c, notes.join('; ')));
    for (const [, sender] of senderClients) sender.kill();
    for (const conns of connections.values()) for (const conn of conns) conn.kill();
    expect(c.lost).toBe(0);
    expect(c.duplicates).toBe(0);
    expect(c.hidden).toBe(0);
    expect(c.delivered + c.stored).toBeGreaterThan(0);
    expect(c.refused).toEqual({});
  }, 120_000);
});

// SEC-1 and AUTH-4 across nodes (CLU-2): many guesses at once for one name, spread over two nodes and
// many connections. Two servers in this process share one real Redis and one real PostgreSQL.

import { describe, expect, spyOn, test } from 'bun:test';
import { useEngines } from '../helpers/use-engines.ts';
import { trackServersAndClients } from '../helpers/cleanup.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { RedisLink } from '../../src/cluster/redis-link.ts';

/** Two nodes and their engines on a loaded machine: room beyond bun's 5 s (nothing here measures time). */
const TEST_MS = 20_000;

const engines = useEngines(import.meta.path);
const { skip } = engines;

const { servers, clients } = trackServersAndClients();

/** A cheap argon2id hash: the checks still run off the event loop, through the same queue. */
function quickHash(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: 1024, timeCost: 1 });
}

let cluster = 0;
/** Two nodes of a fresh cluster whose only account is hans; both nodes' log lines go to `log`. */
async function twoNodes(log: string[]): Promise<[TestServer, TestServer]> {
  const url = await engines.pg.createDatabase();
  const prefix = `g${++cluster}:`;
  const credentials = `hans ${await quickHash('falcon*solo')}\n`;
  const node = (name: string, creds: string) =>
    startTestServer({ store: url, cluster: { url: engines.redis.url, node: name, prefix }, credentials: creds, log: (l) => log.push(l) });
  const a = await node('n1', credentials);
  servers.push(a);
  const b = await node('n2', '');
  servers.push(b);
  return [a, b];
}

async function connect(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

describe.skipIf(skip)('SEC-1 CLU-2 parallel guessing across nodes', () => {
  test('40 guesses at once on 40 connections over two nodes: three are checked, one lockout, the name locked on both, the right password refused', async () => {
    const log: string[] = [];
    const [a, b] = await twoNodes(log);
    const guessers = await Promise.all(Array.from({ length: 40 }, (_, i) => connect(i % 2 === 0 ? a.port : b.port)));
    const owners = await Promise.all([connect(a.port), connect(b.port)]);
    await Promise.all([...guessers, ...owners].map((c) => c.request('login hans')));
    // All guesses leave at once; the right password last, on each node.
    const replies = guessers.map((c, i) => c.request(`password guess${i}`));
    const rights = owners.map((c) => c.request('password falcon*solo'));
    const codes = (await Promise.all(replies)).map((r) => String(r.code));
    expect(codes.filter((c) => c === 'wrong-password')).toHaveLength(2);
    expect(codes.filter((c) => c === 'locked')).toHaveLength(38);
    for (const right of await Promise.all(rights)) expect(right).toMatchObject({ type: 'error', code: 'locked' });
    expect(log.filter((l) => l.startsWith('failed login for hans'))).toHaveLength(3);
    expect(log.some((l) => l.includes('guess'))).toBe(false);
    // Locked everywhere: a new connection on either node is refused at `login`, the right password too.
    for (const port of [a.port, b.port]) {
      const later = await connect(port);
      expect((await later.request('login hans')).code).toBe('locked');
    }
  }, TEST_MS);

  test('a password check that throws gives its strike back at once: later guesses are not held, and the right password logs in', async () => {
    const log: string[] = [];
    const [a, b] = await twoNodes(log);
    // The password queue refuses three checks on node a (as when it is full).
    const run = spyOn(a.server.state.hashing, 'run');
    for (let i = 0; i < 3; i++) run.mockImplementationOnce(() => Promise.reject(new Error('the password queue is full')));
    const guessers = await Promise.all([0, 1, 2].map(() => connect(a.port)));
    await Promise.all(guessers.map((c) => c.request('login hans')));
    for (const reply of await Promise.all(guessers.map((c) => c.request('password guess')))) expect(reply).toMatchObject({ type: 'error', code: 'internal' });
    run.mockRestore();
    // Nothing is left "being checked" (it would have stayed for 30 s, holding every other guess).
    const link = new RedisLink(engines.redis.url);
    try {
      expect(Number((await link.call<string | null>('GET', [`g${cluster}:checking:hans`])) ?? '0')).toBe(0);
    } finally {
      link.close();
    }
    const owner = await connect(b.port);
    await owner.request('login hans');
    expect((await owner.request('password falcon*solo')).code).toBe('welcome');
    expect(log.filter((l) => l.startsWith('failed login for hans'))).toHaveLength(0);
  }, TEST_MS);
});

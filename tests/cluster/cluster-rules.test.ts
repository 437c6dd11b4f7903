// CLU-1: the SPEC rules with the two users on two different nodes — two servers in this process on
// their own ports, sharing one real Redis and one real PostgreSQL (tests/helpers/engines.ts). Each
// test has its own database and its own Redis key prefix, so tests do not see each other.

import { describe, expect, test } from 'bun:test';
import { useEngines } from '../helpers/use-engines.ts';
import { trackServersAndClients } from '../helpers/cleanup.ts';
import { as, PASSWORDS, RawClient, type Line } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import type { ServerConfig } from '../../src/server/state.ts';

const engines = useEngines(import.meta.path);
const { skip } = engines;

const { servers, clients } = trackServersAndClients();

let cluster = 0;
/** Two nodes of a fresh cluster. */
async function twoNodes(secondOptions: { timeoutSeconds?: number } = {}, config: Partial<ServerConfig> = {}): Promise<[TestServer, TestServer]> {
  const url = await engines.pg.createDatabase();
  const prefix = `t${++cluster}:`;
  const node = (name: string, more: { credentials?: string; timeoutSeconds?: number } = {}) =>
    startTestServer({ store: url, cluster: { url: engines.redis.url, node: name, prefix }, config, ...more });
  const a = await node('n1');
  servers.push(a);
  const b = await node('n2', { credentials: '', ...secondOptions });
  servers.push(b);
  return [a, b];
}

async function user(server: TestServer, name: string): Promise<RawClient> {
  const c = await as(server.port, name);
  clients.push(c);
  return c;
}

const isMessage = (body: string) => (l: Line) => l.type === 'message' && l.body === body;

/** Waits until `client` has heard that `who` came online (or went), whether before now or not. */
async function heard(client: RawClient, who: string, online: boolean): Promise<Line> {
  const match = (l: Line) => l.type === 'presence' && l.online === online && (l.users as string[]).includes(who);
  return client.seen(match)[0] ?? (await client.waitFor(match, `${who} ${online ? 'online' : 'offline'}`));
}

/**
 * Waits until `condition` holds, for what no client can see (a node's cached copy of another
 * node's change, which reaches it through the events stream): checked every few milliseconds.
 */
async function until(condition: () => boolean, what: string, ms = 4000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

describe.skipIf(skip)('CLU-1 the rules with the users on different nodes', () => {
  test('MSG-1 a message to a user on another node is shown at once with the sender, and the sender hears delivered', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const leia = await user(b, 'leia');
    await heard(hans, 'leia', true);
    const reply = await hans.request('message leia hello across 🙂');
    expect(reply.code).toBe('delivered');
    const got = await leia.waitFor(isMessage('hello across 🙂'));
    expect(got.from).toBe('hans');
    // CLU-3: leia's node stamped the id; the key is the id hans's node gave it, which hans was told.
    expect(got.key).toBe(reply.id);
  });

  test('MSG-2 a recipient on another node who blocks the sender: refused, nothing stored', async () => {
    const [a, b] = await twoNodes();
    const vader = await user(a, 'vader');
    const yoda = await user(b, 'yoda');
    await heard(vader, 'yoda', true);
    expect((await yoda.request('block vader')).code).toBe('blocked');
    const reply = await vader.request('message yoda let me in');
    expect(reply.code).toBe('blocked');
    expect(yoda.seen(isMessage('let me in'))).toEqual([]);
    expect(await a.server.state.store.countFor('yoda')).toBe(0);
  });

  test('OFF-1 OFF-2 a message to a user offline is stored, then delivered at a login on the other node', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    expect((await hans.request('message leia while you were out')).code).toBe('stored');
    const leia = await user(b, 'leia');
    await leia.waitFor(isMessage('while you were out'));
  });

  test('PRES-1 logins and logouts on one node are told on the other, except to users the person blocks', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const vader = await user(a, 'vader');
    const leiaFirst = await user(b, 'leia');
    expect((await leiaFirst.request('block vader')).code).toBe('blocked');
    leiaFirst.end();
    await heard(hans, 'leia', false);
    const leia = await user(b, 'leia');
    await heard(hans, 'leia', true);
    leia.end();
    await heard(hans, 'leia', false);
    // vader heard leia's first login (before the block) and nothing about her after it.
    const about = vader.seen((l) => l.type === 'presence' && (l.users as string[]).includes('leia'));
    expect(about.map((l) => l.online)).toEqual([true]);
  });

  test('PRES-2 PRES-3 whoelse and whoelsesince list users on the other node, minus those who block the asker', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const leia = await user(b, 'leia');
    const yoda = await user(b, 'yoda');
    expect((await yoda.request('block hans')).code).toBe('blocked');
    await heard(hans, 'yoda', true);
    await heard(hans, 'leia', true);
    // hans's node filters by yoda's blocks, which reach it through the events stream.
    await until(() => a.server.state.isBlocking('yoda', 'hans'), 'the block to reach node a');
    expect((await hans.request('whoelse')).users).toEqual(['leia']);
    leia.end();
    await heard(hans, 'leia', false);
    expect((await hans.request('whoelse')).users).toEqual([]);
    expect((await hans.request('whoelsesince 60')).users).toEqual(['leia']);
  });

  test('AUTH-5 CLU-2 a user online on one node cannot log in on the other; after logout they can', async () => {
    const [a, b] = await twoNodes();
    const leia = await user(b, 'leia');
    const hans = await user(a, 'hans');
    const second = await RawClient.connect(b.port);
    clients.push(second);
    await second.request('login hans');
    const refused = await second.request('password falcon*solo');
    expect(refused.code).toBe('already-online');
    hans.end();
    await heard(leia, 'hans', false);
    await second.request('login hans');
    expect((await second.request('password falcon*solo')).code).toBe('welcome');
  });

  test('AUTH-4 CLU-2 three wrong passwords spread over two nodes lock the name on both; a login on either is refused', async () => {
    const [a, b] = await twoNodes();
    const first = await RawClient.connect(a.port);
    clients.push(first);
    await first.request('login hans');
    expect((await first.request('password wrong-1')).code).toBe('wrong-password');
    expect((await first.request('password wrong-2')).code).toBe('wrong-password');
    const second = await RawClient.connect(b.port);
    clients.push(second);
    await second.request('login hans');
    const third = await second.request('password wrong-3');
    expect(third.code).toBe('locked');
    await second.waitClosed();
    for (const port of [a.port, b.port]) {
      const later = await RawClient.connect(port);
      clients.push(later);
      const refused = await later.request('login hans');
      expect(refused.code).toBe('locked');
      expect(String(refused.text)).toContain('blocked');
    }
  });

  test('AUTH-4 a right password on another node resets the count', async () => {
    const [a, b] = await twoNodes();
    const leia = await user(a, 'leia');
    const first = await RawClient.connect(a.port);
    clients.push(first);
    await first.request('login hans');
    expect((await first.request('password wrong-1')).code).toBe('wrong-password');
    expect((await first.request('password wrong-2')).code).toBe('wrong-password');
    const right = await user(b, 'hans');
    right.end();
    await heard(leia, 'hans', false);
    expect((await first.request('password wrong-3')).text).toContain('2 tries left');
  });

  test('BLK-1 BLK-2 BLK-3 a block made on one node holds for a sender on the other (messages, broadcasts), until unblocked', async () => {
    const [a, b] = await twoNodes();
    const vader = await user(a, 'vader');
    const hans = await user(a, 'hans');
    const leia = await user(b, 'leia');
    await heard(vader, 'leia', true);
    await heard(hans, 'leia', true);
    expect((await leia.request('block vader')).code).toBe('blocked');
    expect((await leia.request('block vader')).code).toBe('already-blocked');
    expect((await vader.request('message leia hello')).code).toBe('blocked');
    const partial = await vader.request('broadcast anyone there');
    expect(partial.code).toBe('partial');
    await hans.waitFor((l) => l.type === 'broadcast' && l.body === 'anyone there');
    expect((await leia.request('unblock vader')).code).toBe('unblocked');
    // The unblock reaches vader's node through the events stream; the message goes once it has.
    await until(() => !a.server.state.isBlocking('leia', 'vader'), 'the unblock to reach node a');
    expect((await vader.request('message leia hello again')).code).toBe('delivered');
    await leia.waitFor(isMessage('hello again'));
  });

  test('BCAST-1 a broadcast reaches users on every node but the sender and its blockers, and the sender is told some were skipped', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const luke = await user(a, 'luke');
    const leia = await user(b, 'leia');
    const yoda = await user(b, 'yoda');
    expect((await yoda.request('block hans')).code).toBe('blocked');
    await heard(hans, 'yoda', true);
    await heard(hans, 'leia', true);
    // The count is made on hans's node: the block reaches it through the events stream.
    await until(() => a.server.state.isBlocking('yoda', 'hans'), 'the block to reach node a');
    const reply = await hans.request('broadcast to everyone');
    expect(reply.code).toBe('partial');
    expect(reply.reached).toBe(2);
    const there = await leia.waitFor((l) => l.type === 'broadcast' && l.body === 'to everyone' && l.from === 'hans');
    const here = await luke.waitFor((l) => l.type === 'broadcast' && l.body === 'to everyone');
    // CLU-3: the same key on every node, the id hans was told.
    expect([there.key, here.key]).toEqual([reply.id, reply.id]);
    expect(yoda.seen((l) => l.type === 'broadcast')).toEqual([]);
    expect(hans.seen((l) => l.type === 'broadcast')).toEqual([]);
  });

  test('SEC-3 a name registered on the other node since start: look-alikes of it (case, letters) are refused at login', async () => {
    const [a, b] = await twoNodes();
    const mara = await RawClient.connect(b.port);
    clients.push(mara);
    expect((await mara.request('login mara')).code).toBe('new-account');
    expect((await mara.request('password correct-horse-battery')).code).toBe('welcome');
    for (const like of ['MARA', 'rnara', 'Mara']) {
      const c = await RawClient.connect(a.port);
      clients.push(c);
      const refused = await c.request(`login ${like}`);
      expect(refused).toMatchObject({ type: 'error', code: 'name-taken' });
      expect(String(refused.text)).toContain('"mara"');
    }
  });

  test('SEC-3 two look-alike names registered at the same moment on two nodes: one gets the name, the other is refused', async () => {
    const [a, b] = await twoNodes();
    const [first, second] = await Promise.all([RawClient.connect(a.port), RawClient.connect(b.port)]);
    clients.push(first, second);
    expect((await first.request('login Rey')).code).toBe('new-account');
    expect((await second.request('login rey')).code).toBe('new-account');
    const replies = await Promise.all([first.request('password correct-horse-battery'), second.request('password staple-battery-horse')]);
    expect(replies.map((r) => String(r.code)).toSorted()).toEqual(['name-taken', 'welcome']);
  });

  test('AUTH-6 at a login: the welcome, then the stored messages (stored by either node), then the others on both nodes are told', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const yoda = await user(b, 'yoda');
    const luke = await user(b, 'luke');
    // One stored by each node.
    const first = await hans.request('message leia from node one');
    const second = await yoda.request('message leia from node two');
    expect([first.code, second.code]).toEqual(['stored', 'stored']);
    const leia = await RawClient.connect(b.port);
    clients.push(leia);
    await leia.request('login leia');
    const welcome = await leia.request(`password ${PASSWORDS.leia}`);
    expect(welcome.code).toBe('welcome');
    await leia.waitFor(isMessage('from node two'));
    // The stored messages come right after the welcome, in order, with their keys.
    const after = leia.lines.slice(leia.lines.indexOf(welcome) + 1, leia.lines.indexOf(welcome) + 3);
    expect(after.map((l) => [l.type, l.body, l.key, l.offline])).toEqual([
      ['message', 'from node one', first.id, true],
      ['message', 'from node two', second.id, true],
    ]);
    // Then the others: on the other node and on leia's own.
    await heard(hans, 'leia', true);
    await heard(luke, 'leia', true);
  });

  test('SESS-3 a logout on one node is a logout on the other, and the user can log in on the other node at once', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const leia = await user(b, 'leia');
    await heard(hans, 'leia', true);
    const bye = await leia.request('logout');
    expect(bye.code).toBe('bye');
    await leia.waitClosed();
    // At once, on the other node: no `already-online`, no retry.
    const again = await RawClient.connect(a.port);
    clients.push(again);
    await again.request('login leia');
    expect((await again.request(`password ${PASSWORDS.leia}`)).code).toBe('welcome');
    // hans, on the other node, was told she left; she is online once, on node a now.
    await heard(hans, 'leia', false);
    expect((await hans.request('whoelse')).users).toEqual(['leia']);
    expect(b.server.state.sessions.has('leia')).toBe(false);
  });

  test('SESS-4 a client that vanishes on one node is a logout on the other, and the user can log in on the other node once it is seen', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const leia = await user(b, 'leia');
    await heard(hans, 'leia', true);
    leia.kill();
    await heard(hans, 'leia', false);
    expect((await hans.request('whoelse')).users).toEqual([]);
    const again = await RawClient.connect(a.port);
    clients.push(again);
    await again.request('login leia');
    expect((await again.request(`password ${PASSWORDS.leia}`)).code).toBe('welcome');
  });

  test('SEC-6 the offline quota counts what both nodes stored for the recipient; a sender on either node is told mailbox-full', async () => {
    const [a, b] = await twoNodes({}, { offlineQuotaMessages: 3, rateLimit: 0 });
    const hans = await user(a, 'hans');
    const yoda = await user(b, 'yoda');
    for (const n of [1, 2]) expect((await hans.request(`message leia from a ${n}`)).code).toBe('stored');
    expect((await yoda.request('message leia from b 1')).code).toBe('stored');
    // Full: 2 stored by node a, 1 by node b. Refused on both nodes, nothing more stored.
    const fromB = await yoda.request('message leia from b 2');
    expect(fromB).toMatchObject({ type: 'error', code: 'mailbox-full' });
    const fromA = await hans.request('message leia from a 3');
    expect(fromA).toMatchObject({ type: 'error', code: 'mailbox-full' });
    expect(String(fromA.text)).toContain('leia has too many messages waiting (3');
    expect(await a.server.state.store.countFor('leia')).toBe(3);
    // leia reads them on node b and leaves: there is room again, also for a sender on node a.
    const leia = await user(b, 'leia');
    await leia.waitFor(isMessage('from b 1'));
    await leia.request('whoelse');
    leia.end();
    await heard(hans, 'leia', false);
    await until(() => !b.server.state.sessions.has('leia'), 'leia to be gone from node b');
    expect((await hans.request('message leia from a 4')).code).toBe('stored');
  });

  test('SESS-1 a user timed out on one node is shown as logged out on the other', async () => {
    const [a, b] = await twoNodes({ timeoutSeconds: 1 });
    const hans = await user(a, 'hans');
    await user(b, 'leia');
    await heard(hans, 'leia', true);
    await heard(hans, 'leia', false);
    expect(b.server.state.sessions.has('leia')).toBe(false);
  });
});

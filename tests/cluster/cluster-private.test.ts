// P2P-2, P2P-4, P2P-5 with the two users on two different nodes (CLU-1): two servers in this process
// on their own ports, sharing one real Redis and one real PostgreSQL; and the private chat itself
// between two real client processes connected to different nodes.

import { describe, expect, test } from 'bun:test';
import { useEngines } from '../helpers/use-engines.ts';
import { trackServersAndClients } from '../helpers/cleanup.ts';
import { LiveClient } from '../helpers/cli.ts';
import { as, PASSWORDS, RawClient } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

/** Two nodes and their engines on a loaded machine: room beyond bun's 5 s (nothing here measures time). */
const TEST_MS = 20_000;

const engines = useEngines(import.meta.path);
const { skip } = engines;

const { servers, clients } = trackServersAndClients();

let cluster = 0;
/** Two nodes of a fresh cluster; `privateRequestMs` for both. */
async function twoNodes(privateRequestMs?: number): Promise<[TestServer, TestServer]> {
  const url = await engines.pg.createDatabase();
  const prefix = `p${++cluster}:`;
  const node = (name: string, credentials?: string) =>
    startTestServer({ store: url, cluster: { url: engines.redis.url, node: name, prefix }, ...(credentials !== undefined && { credentials }), ...(privateRequestMs !== undefined && { privateRequestMs }) });
  const a = await node('n1');
  servers.push(a);
  const b = await node('n2', '');
  servers.push(b);
  return [a, b];
}

/** Logs in on `server` and reports a p2p port, as the real client does; waits until `others` know it is online. */
async function user(server: TestServer, name: string, port?: number, ...others: RawClient[]): Promise<RawClient> {
  const c = await as(server.port, name);
  clients.push(c);
  if (port !== undefined) expect(await c.request(`p2pport ${port}`)).toMatchObject({ code: 'p2pport', port });
  for (const o of others) await heard(o, name);
  return c;
}

async function heard(client: RawClient, who: string): Promise<void> {
  const match = (l: Record<string, unknown>) => l.type === 'presence' && l.online === true && (l.users as string[]).includes(who);
  if (client.seen(match).length === 0) await client.waitFor(match, `${who} online`);
}

/** `asker` asks `asked` (on another node); `asked` accepts. */
async function openChat(asker: RawClient, askerName: string, asked: RawClient, askedName: string) {
  expect((await asker.request(`startprivate ${askedName}`)).code).toBe('requested');
  await asked.event('private-request', { user: askerName });
  const accepted = await asked.request(`accept ${askerName}`);
  const given = await asker.event('private-accepted', { user: askedName });
  return { accepted, given };
}

describe.skipIf(skip)('CLU-1 P2P-2 private-chat brokering with the users on different nodes', () => {
  test('P2P-2 consent first, then the peer’s address, port and a one-time token (the same on both sides)', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    expect((await hans.request('startprivate yoda')).code).toBe('requested');
    expect(await yoda.event('private-request')).toEqual({ type: 'private-request', user: 'hans' });
    // Nothing about yoda's address before consent; nothing about hans's to yoda at all.
    await hans.request('whoelse');
    expect(hans.received).not.toContain('42000');
    expect(yoda.received).not.toContain('41000');
    const accepted = await yoda.request('accept hans');
    expect(accepted).toMatchObject({ type: 'ok', code: 'accepted', user: 'hans' });
    const given = await hans.event('private-accepted', { user: 'yoda' });
    expect(given).toMatchObject({ host: '127.0.0.1', port: 42000 });
    expect(given.token).toMatch(/^[0-9a-f]{32}$/);
    expect(accepted.token).toBe(given.token as string);
    expect((await hans.request('startprivate yoda')).code).toBe('already-private');
    expect((await yoda.request('startprivate hans')).code).toBe('already-private');
  }, TEST_MS);

  test('P2P-2 refusals: offline, blocked (without saying whether the blocker is online), no private-chat port, already asked either way', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    const vader = await user(b, 'vader', undefined, hans);
    const luke = await user(b, 'luke', 43000, hans);
    const expectError = async (c: RawClient, line: string, code: string) => expect(await c.request(line)).toMatchObject({ type: 'error', code });
    await expectError(hans, 'startprivate leia', 'offline');
    await expectError(hans, 'startprivate vader', 'peer-unavailable');
    expect((await luke.request('block hans')).code).toBe('blocked');
    // Refused whether or not node a has heard of the block yet: node b checks it too.
    await expectError(hans, 'startprivate luke', 'blocked');
    luke.end();
    await luke.waitClosed();
    await expectError(hans, 'startprivate luke', 'blocked');
    expect((await hans.request('startprivate yoda')).code).toBe('requested');
    await yoda.event('private-request', { user: 'hans' });
    await expectError(hans, 'startprivate yoda', 'request-pending');
    await expectError(yoda, 'startprivate hans', 'request-pending');
    expect(luke.seen((l) => l.type === 'private-request')).toEqual([]);
    expect(vader.seen((l) => l.type === 'private-request')).toEqual([]);
  }, TEST_MS);

  test('P2P-2 declined: the requester on the other node is told, and the request is gone', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    await hans.request('startprivate yoda');
    await yoda.event('private-request', { user: 'hans' });
    expect((await yoda.request('decline hans')).code).toBe('declined');
    await hans.event('private-declined', { user: 'yoda' });
    expect((await yoda.request('accept hans')).code).toBe('no-request');
    expect((await hans.request('startprivate yoda')).code).toBe('requested');
  }, TEST_MS);

  test('P2P-2 no answer in time: both are told, an accept after it is refused, and it can be asked again', async () => {
    const [a, b] = await twoNodes(300);
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    await hans.request('startprivate yoda');
    await yoda.event('private-request', { user: 'hans' });
    await hans.event('private-lapsed', { user: 'yoda', reason: 'no answer' });
    await yoda.event('private-lapsed', { user: 'hans', reason: 'no answer' });
    expect((await yoda.request('accept hans')).code).toBe('no-request');
    expect((await hans.request('startprivate yoda')).code).toBe('requested');
  }, TEST_MS);

  test('P2P-4 stopprivate from either node: the other side is told', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    await openChat(hans, 'hans', yoda, 'yoda');
    expect((await yoda.request('stopprivate hans')).code).toBe('stopped');
    await hans.event('private-closed', { user: 'yoda', reason: 'stopped' });
    expect((await hans.request('stopprivate yoda')).code).toBe('no-private');
    await openChat(yoda, 'yoda', hans, 'hans');
    expect((await hans.request('stopprivate yoda')).code).toBe('stopped');
    await yoda.event('private-closed', { user: 'hans', reason: 'stopped' });
  }, TEST_MS);

  test('P2P-5 a logout closes the chats and withdraws the requests on the other node, with the reason', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    const leia = await user(b, 'leia', 43000, hans);
    await openChat(hans, 'hans', yoda, 'yoda');
    await hans.request('startprivate leia');
    await leia.event('private-request', { user: 'hans' });
    await hans.request('logout');
    await yoda.event('private-closed', { user: 'hans', reason: 'logout' });
    await leia.event('private-lapsed', { user: 'hans', reason: 'logout' });
    expect((await leia.request('accept hans')).code).toBe('no-request');
    expect((await yoda.request('stopprivate hans')).code).toBe('no-private');
  }, TEST_MS);

  test('P2P-5 CLU-3 a node dies: the private-chat peers and requesters of its users on other nodes are told', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans', 41000);
    const yoda = await user(b, 'yoda', 42000, hans);
    const leia = await user(b, 'leia', 43000, hans);
    await openChat(hans, 'hans', yoda, 'yoda');
    await leia.request('startprivate hans');
    await hans.event('private-request', { user: 'leia' });
    // Node a stops as a crash would: no logout, no notice; its lease expires and node b's janitor
    // logs hans out.
    await (a.server.cluster as NonNullable<typeof a.server.cluster>).node.abandon();
    // The lease lapses (1.5 s), then a janitor sweep (every 1.5 s) finds it: longer than a usual wait.
    const told = (type: string) => (l: Record<string, unknown>) => l.type === type && l.user === 'hans' && l.reason === 'disconnected';
    await yoda.waitFor(told('private-closed'), 'private-closed from hans', 10_000);
    await leia.waitFor(told('private-lapsed'), 'private-lapsed from hans', 10_000);
    expect((await yoda.request('stopprivate hans')).code).toBe('no-private');
    expect((await leia.request('startprivate hans')).code).toBe('offline');
  }, TEST_MS);
});

describe.skipIf(skip)('CLU-1 P2P-3 a private chat between two real clients on different nodes', () => {
  test('accept on one node, then talk both ways over the direct connection', async () => {
    const [a, b] = await twoNodes();
    const client = async (server: TestServer, name: string) => {
      const c = new LiveClient(server.port);
      clients.push(c);
      await c.logIn(name, PASSWORDS[name] as string);
      return c;
    };
    const hans = await client(a, 'hans');
    const yoda = await client(b, 'yoda');
    // The client reports its p2p port right after the welcome, and a needs to know yoda is online.
    const ready = () => b.server.state.sessions.get('yoda')?.p2pPort !== undefined && a.server.state.delivery.isOnline('yoda');
    for (const deadline = Date.now() + 5000; !ready(); await Bun.sleep(5)) if (Date.now() > deadline) throw new Error('yoda not ready');
    hans.write('startprivate yoda');
    await yoda.waitFor('hans asks for a private chat: type "accept hans" or "decline hans"');
    yoda.write('accept hans');
    await hans.waitFor('Private chat with yoda is open');
    await yoda.waitFor('Private chat with hans is open');
    hans.write('private yoda across two nodes');
    await yoda.waitFor('hans (private): across two nodes');
    yoda.write('private hans and back 🙂');
    await hans.waitFor('yoda (private): and back 🙂');
  }, TEST_MS);
});

// Two nodes sharing one PostgreSQL (no Redis routing yet): what the shared store alone must already
// give across nodes — accounts registered on one node log in on the other at once (CLU-1, AUTH-3,
// SEC-4), offline messages stored through one node are delivered at a login on the other (OFF-1,
// OFF-2), blocks survive (BLK-4), and the ids a user is shown only grow as they move between nodes
// (CLUSTER.md, "Ids must grow per connection").

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ENGINE_START_MS, PostgresEngine, postgresMissing, skipUnless } from '../helpers/engines.ts';
import { as, RawClient, type Line } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { trackServersAndClients } from '../helpers/cleanup.ts';

const skip = skipUnless(import.meta.path, postgresMissing());

let engine: PostgresEngine | undefined;
beforeAll(async () => {
  if (!skip) engine = await PostgresEngine.start();
}, ENGINE_START_MS);
afterAll(async () => {
  await engine?.stop();
});

const { servers, clients } = trackServersAndClients();

/** Two nodes on one fresh database. */
async function twoNodes(): Promise<[TestServer, TestServer]> {
  const url = await (engine as PostgresEngine).createDatabase();
  const a = await startTestServer({ store: url });
  const b = await startTestServer({ store: url, credentials: '' });
  servers.push(a, b);
  return [a, b];
}

async function user(server: TestServer, name: string): Promise<RawClient> {
  const c = await as(server.port, name);
  clients.push(c);
  return c;
}

const isMessage = (body: string) => (l: Line) => l.type === 'message' && l.body === body;

describe.skipIf(skip)('nodes sharing one PostgreSQL store', () => {
  test('CLU-1 AUTH-1 the credentials file seeds the store: a node started without it serves those accounts', async () => {
    const [, b] = await twoNodes();
    const hans = await user(b, 'hans');
    expect(hans.isClosed).toBe(false);
  });

  test('CLU-1 AUTH-3 a registration on one node can log in on the other at once', async () => {
    const [a, b] = await twoNodes();
    const first = await RawClient.connect(a.port);
    clients.push(first);
    expect((await first.request('login newbie')).code).toBe('new-account');
    expect((await first.request('password long*enough')).code).toBe('welcome');
    first.end();
    await first.waitClosed();
    const again = await RawClient.connect(b.port);
    clients.push(again);
    expect((await again.request('login newbie')).code).toBe('password');
    expect((await again.request('password long*enough')).code).toBe('welcome');
  });

  test('CLU-1 OFF-1 OFF-2 a message stored through one node is delivered at a login on the other', async () => {
    const [a, b] = await twoNodes();
    const hans = await user(a, 'hans');
    const stored = await hans.request('message yoda stored on a');
    expect(stored.code).toBe('stored');
    const yoda = await user(b, 'yoda');
    await yoda.waitFor(isMessage('stored on a'));
  });

  test('CLU-1 BLK-4 a block made on one node holds on a node started after it', async () => {
    const url = await (engine as PostgresEngine).createDatabase();
    const a = await startTestServer({ store: url });
    servers.push(a);
    const yoda = await user(a, 'yoda');
    expect((await yoda.request('block vader')).code).toBe('blocked');
    const b = await startTestServer({ store: url, credentials: '' });
    servers.push(b);
    const vader = await user(b, 'vader');
    expect((await vader.request('message yoda hello')).code).toBe('blocked');
  });

  test('CLU-1 the ids a user is shown only grow when they move to a node whose id block is older', async () => {
    const [a, b] = await twoNodes();
    // b reserved its block after a: a message through b carries a higher id than a would give.
    const leiaOnB = await user(b, 'leia');
    const hansOnB = await user(b, 'hans');
    expect((await hansOnB.request('message leia on b')).code).toBe('delivered');
    const onB = (await leiaOnB.waitFor(isMessage('on b'))).id as number;
    leiaOnB.end();
    await leiaOnB.waitClosed();
    const leiaOnA = await user(a, 'leia');
    const hansOnA = await user(a, 'yoda');
    expect((await hansOnA.request('message leia on a')).code).toBe('delivered');
    const onA = (await leiaOnA.waitFor(isMessage('on a'))).id as number;
    expect(onA).toBeGreaterThan(onB);
  });
});

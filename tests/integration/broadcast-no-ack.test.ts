// Broadcasts need no ack (docs/PROTOCOL.md, issue 14): the terminal client acks the messages it is
// sent and never a broadcast, so a broadcast to n users does not bring n requests back.

import { afterEach, expect, test } from 'bun:test';
import { LiveClient } from '../helpers/cli.ts';
import { as, type RawClient } from '../helpers/raw-client.ts';
import { RecordingProxy } from '../helpers/recording-proxy.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { trackKillables } from '../helpers/cleanup.ts';

let server: TestServer | undefined;
let proxy: RecordingProxy | undefined;
const track = trackKillables();
afterEach(async () => {
  proxy?.stop();
  await server?.stop();
  server = undefined;
});

/** Leia's real client behind a recording proxy; `send` runs while she is logged in, then she logs out. */
async function leiaSees(send: (hans: RawClient) => Promise<void>, shown: string): Promise<string[]> {
  server = await startTestServer();
  proxy = new RecordingProxy(server.port);
  const hans = await as(server.port, 'hans');
  track(hans);
  const leia = new LiveClient(proxy.port, ['--json']);
  track(leia);
  await leia.logIn('leia', '$blasterpistol$');
  await send(hans);
  await leia.waitFor(shown);
  // Logging out sends any ack the client has scheduled first (it never waits for its timer).
  leia.endInput();
  expect(await leia.exited).toBe(0);
  expect(proxy.linesStartingWith('logout')).toHaveLength(1);
  return proxy.linesStartingWith('ack');
}

test('the terminal client sends no ack for a broadcast', async () => {
  const acks = await leiaSees(async (hans) => {
    expect((await hans.request('broadcast hello everyone')).code).toBe('sent');
  }, 'hello everyone');
  expect(acks).toEqual([]);
});

test('the terminal client does ack a direct message (the control for the test above)', async () => {
  const acks = await leiaSees(async (hans) => {
    // `delivered` comes only once leia's client has acked it.
    expect((await hans.request('message leia hello leia')).code).toBe('delivered');
  }, 'hello leia');
  expect(acks.length).toBeGreaterThan(0);
});

// Issue 7: a message whose ack never reached the server is delivered again at the next login,
// and the real client drops it by id, so each message is shown exactly once.

import { afterEach, expect, test } from 'bun:test';
import { runCli } from '../helpers/cli.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { RecordingProxy } from '../helpers/recording-proxy.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
let proxy: RecordingProxy;
const raws: RawClient[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.kill();
  proxy?.stop();
  await server?.stop();
});

test('messages delivered again because their acks were lost are shown once, across client runs', async () => {
  server = await startTestServer();
  // Every ack leia's client sends is lost on the way: the server keeps delivering everything.
  proxy = new RecordingProxy(server.port, (line) => /^(#\S+ )?ack /.test(line));
  const hans = await as(server.port, 'hans');
  raws.push(hans);
  for (const text of ['one', 'two', 'three']) expect((await hans.request(`message leia ${text}`)).code).toBe('stored');

  const shown: string[] = [];
  for (let run = 0; run < 3; run++) {
    if (run === 1) expect((await hans.request('message leia four')).code).toBe('stored');
    const { code, stdout } = await runCli(['connect', String(proxy.port), '--json'], { stdin: 'leia\n$blasterpistol$\n' });
    expect(code).toBe(0);
    for (const line of stdout.trim().split('\n')) {
      const event = JSON.parse(line) as { type: string; body?: string };
      if (event.type === 'message') shown.push(event.body as string);
    }
  }
  // The server delivered them every time (they were never acknowledged)...
  expect(proxy.linesStartingWith('ack').length).toBeGreaterThanOrEqual(3);
  expect(await server.server.state.store.countFor('leia')).toBe(4);
  // ...and each was shown once.
  expect(shown).toEqual(['one', 'two', 'three', 'four']);
});

test('CLU-3/OFF-2 a message stored with a key below ids already shown is shown, and ones sent again after lost acks are shown once, by key', async () => {
  server = await startTestServer();
  const { state } = server.server;
  // A message accepted long ago, on a node that then died: its key is an id handed out before
  // everything below, and the sender's node stores it late (here: straight into the store).
  const late = state.ids.take();
  // leia's acks are all lost: what she is shown stays stored and comes again at every login.
  proxy = new RecordingProxy(server.port, (line) => /^(#\S+ )?ack /.test(line));
  const hans = await as(server.port, 'hans');
  raws.push(hans);
  for (const text of ['one', 'two']) expect((await hans.request(`message leia ${text}`)).code).toBe('stored');
  const shown: string[] = [];
  /** Every message line leia's client (the real one, `chat connect --json`) showed in one run. */
  const run = async () => {
    const { code, stdout } = await runCli(['connect', String(proxy.port), '--json'], { stdin: 'leia\n$blasterpistol$\n' });
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id?: number; key?: number; body?: string });
    const messages = lines.filter((l) => l.type === 'message');
    shown.push(...messages.map((m) => m.body as string));
    return messages;
  };
  const first = await run();
  expect(first.map((m) => m.body)).toEqual(['one', 'two']);
  await state.store.commit([{ id: late, from: 'hans', to: 'leia', at: state.now(), body: 'late' }], []);
  // The backlog is stamped with fresh ids above those of the first connection (an old client's
  // highest-id rule would show it all again, never hide it); the client goes by key.
  const second = await run();
  expect(second.map((m) => m.body)).toEqual(['late']);
  expect(second[0]?.key).toBe(late);
  expect(late).toBeLessThan(first[0]?.key as number);
  expect(second[0]?.id).toBeGreaterThan(Math.max(...first.map((m) => m.id as number)));
  expect(await state.store.countFor('leia')).toBe(3);
  expect(shown).toEqual(['one', 'two', 'late']);
});

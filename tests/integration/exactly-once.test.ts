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

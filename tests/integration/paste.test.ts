// Typing and pasting into the real client on a terminal (issue 11): every line is sent once and in
// order however many arrive at once, and a line over a protocol limit is refused by the client
// with the session kept (CLI-7).

import { afterEach, describe, expect, test } from 'bun:test';
import { KEY, PtyClient } from '../helpers/pty-client.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { RecordingProxy } from '../helpers/recording-proxy.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer | undefined;
const closers: { kill?(): void; stop?(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.kill ? c.kill() : c.stop?.();
  await server?.stop();
  server = undefined;
});

function track<T extends { kill?(): void; stop?(): void }>(thing: T): T {
  closers.push(thing);
  return thing;
}

/** Waits for `count` messages at `to` and returns their bodies in arrival order. */
async function bodies(to: RawClient, count: number, ms = 30_000): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) out.push(String((await to.waitFor((l) => l.type === 'message', `message ${out.length + 1}`, ms)).body));
  return out;
}

const numbered = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${String(i + 1).padStart(4, '0')}`);

describe('CLI-7 a paste reaches the other side whole and in order', () => {
  test('a paste of 1,000 lines: all delivered in order, and whoelse and logout still answer at once', async () => {
    // 100 commands a second (bursts of 500) keeps the test short; the client still has to pace itself.
    server = await startTestServer({ config: { rateLimit: 100 } });
    const yoda = track(await as(server.port, 'yoda'));
    const hans = track(new PtyClient(server.port));
    await hans.login('hans', 'falcon*solo');
    const texts = numbered(1000);
    hans.type(texts.map((t) => `message yoda ${t}\r`).join(''));
    expect(await bodies(yoda, 1000)).toEqual(texts);
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    hans.type(`logout${KEY.enter}`);
    expect(await hans.exited).toBe(0);
    expect(hans.text()).not.toContain('Too many commands');
  }, 40_000);

  test('lines the network bunches together past the budget: still all delivered, once each, in order', async () => {
    // The server's budget is 20 a second, bursts of 100. A proxy holds the client's lines back and
    // lets 110 arrive at once, so the server refuses some however well the client paced itself.
    server = await startTestServer({ config: { rateLimit: 20 } });
    const yoda = track(await as(server.port, 'yoda'));
    const messages = (sent: string) => sent.split('\n').filter((l) => / message yoda /.test(l)).length;
    const proxy = track(new RecordingProxy(server.port, undefined, (sent) => messages(sent) > 0 && messages(sent) < 110));
    const hans = track(new PtyClient(proxy.port));
    await hans.login('hans', 'falcon*solo');
    const texts = numbered(115);
    hans.type(texts.map((t) => `message yoda ${t}\r`).join(''));
    expect(await bodies(yoda, 115)).toEqual(texts);
    hans.type(`whoelse${KEY.enter}`);
    await hans.waitFor('1 user online now: yoda');
    hans.type(`logout${KEY.enter}`);
    expect(await hans.exited).toBe(0);
    expect(hans.text()).not.toContain('Far too many commands');
  }, 30_000);
});

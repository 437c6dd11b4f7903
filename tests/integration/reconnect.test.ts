// CLI-9: when the connection drops or the server restarts, the real client reconnects with
// backoff (to the next address where several are given), logs in again, and shows each message
// once, even one delivered again because its acknowledgement never reached the server.

import { afterEach, describe, expect, test } from 'bun:test';
import { PtyClient } from '../helpers/pty-client.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { RecordingProxy } from '../helpers/recording-proxy.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/test-server.ts';
import type { ServerConfig } from '../../src/server/state.ts';

const servers: TestServer[] = [];
const closers: { kill?(): void; stop?(): void }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.kill ? c.kill() : c.stop?.();
  for (const s of servers.splice(0)) await s.stop();
});
function track<T extends { kill?(): void; stop?(): void }>(thing: T): T {
  closers.push(thing);
  return thing;
}

/** A server on `host`:`port` (port 0: any), sharing `dir` (credentials and database) when given. */
async function serve(host: string, port: number, options: TestServerOptions = {}): Promise<TestServer> {
  const server = await startTestServer({ ...options, config: { host, port } as Partial<ServerConfig> });
  servers.push(server);
  return server;
}
async function stop(server: TestServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.stop();
}
const count = (text: string, what: string) => text.split(what).length - 1;

describe('CLI-9 reconnecting', () => {
  test('the server restarts: the client logs in again by itself and shows each message once', async () => {
    const first = await serve('127.0.0.1', 0);
    // Acks never reach the server: everything hans was shown is delivered again after the restart.
    const proxy = track(new RecordingProxy(first.port, (line) => / ?ack \d+$/.test(line)));
    const hans = track(new PtyClient(proxy.port, { rows: 40 }));
    await hans.login('hans', 'falcon*solo');
    const yoda = track(await as(first.port, 'yoda'));
    // Not acknowledged: yoda's reply would wait for the ack deadline, so do not wait for it.
    yoda.send('message hans before the restart');
    await hans.waitFor('yoda: before the restart');

    await stop(first);
    await hans.waitFor('Disconnected: The server is shutting down; reconnecting…');
    const second = await serve('127.0.0.1', first.port, { dir: first.dir });
    await hans.waitFor(`Reconnected to 127.0.0.1:${proxy.port} as hans`, 8000);
    const yoda2 = track(await as(second.port, 'yoda'));
    yoda2.send('message hans after the restart');
    await hans.waitFor('yoda: after the restart');
    // The stored copy of the first message came again at the new login: not shown twice.
    expect(proxy.linesStartingWith('password')).toHaveLength(2);
    expect(count(hans.text(), 'before the restart')).toBe(1);
    // The session is a real one: commands work.
    hans.type('whoelse\r');
    await hans.waitFor('1 user online now: yoda');
  }, 20_000);

  test('several addresses: when the first goes away, the next one is tried', async () => {
    const a = await serve('127.0.0.2', 0);
    const hans = track(new PtyClient(a.port, { args: ['--host', '127.0.0.2,127.0.0.3'], rows: 40 }));
    await hans.login('hans', 'falcon*solo');
    await stop(a);
    const b = await serve('127.0.0.3', a.port, { dir: a.dir });
    await hans.waitFor(`Reconnected to 127.0.0.3:${a.port} as hans`, 8000);
    const yoda = track(await RawClient.connect(b.port, '127.0.0.3'));
    await yoda.login('yoda', 'wise@!man');
    await yoda.request('message hans on the second address');
    await hans.waitFor('yoda: on the second address');
  }, 20_000);

  test('a dropped connection (no goodbye) is reconnected too, with the password typed once', async () => {
    const server = await serve('127.0.0.1', 0);
    let proxy = track(new RecordingProxy(server.port));
    const port = proxy.port;
    const hans = track(new PtyClient(port, { rows: 40 }));
    await hans.login('hans', 'falcon*solo');
    proxy.stop();
    await hans.waitFor('The server closed the connection; reconnecting…');
    // The network comes back on the same port.
    proxy = track(new RecordingProxy(server.port, undefined, undefined, port));
    await hans.waitFor(`Reconnected to 127.0.0.1:${port} as hans`, 8000);
    expect(hans.text()).not.toContain('falcon');
    const yoda = track(await as(server.port, 'yoda'));
    await yoda.request('message hans back again');
    await hans.waitFor('yoda: back again');
  }, 20_000);

  test('Ctrl-D while it is reconnecting leaves at once (exit 1), however long the server stays away', async () => {
    const server = await serve('127.0.0.1', 0);
    const hans = track(new PtyClient(server.port, { rows: 40 }));
    await hans.login('hans', 'falcon*solo');
    await stop(server);
    await hans.waitFor('reconnecting…');
    hans.type('\x04');
    expect(await hans.exited).toBe(1);
    await hans.waitFor('Left while disconnected');
  });
});

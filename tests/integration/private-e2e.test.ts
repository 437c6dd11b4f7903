// Private chats end to end: real client processes, a real server, and a recording proxy in
// between that shows what the server received (P2P-1..6).

import { afterEach, describe, expect, test } from 'bun:test';
import { LiveClient } from '../helpers/cli.ts';
import { RecordingProxy } from '../helpers/recording-proxy.ts';
import { FakeClock, startTestServer, type TestServer } from '../helpers/test-server.ts';
import { PASSWORDS } from '../helpers/raw-client.ts';

let server: TestServer;
let proxy: RecordingProxy;
const lives: LiveClient[] = [];
afterEach(async () => {
  for (const c of lives.splice(0)) c.kill();
  proxy?.stop();
  await server?.stop();
});

async function setup(options: Parameters<typeof startTestServer>[0] = {}): Promise<void> {
  server = await startTestServer(options);
  proxy = new RecordingProxy(server.port);
}

/** A client process logged in through the proxy. */
async function client(name: string): Promise<LiveClient> {
  const c = new LiveClient(proxy.port);
  lives.push(c);
  await c.logIn(name, PASSWORDS[name] as string);
  // The client reports its p2p port right after the welcome.
  await until(() => server.server.state.sessions.get(name)?.p2pPort !== undefined, `${name}'s p2p port`);
  return c;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

async function openChat(hans: LiveClient, yoda: LiveClient): Promise<void> {
  hans.write('startprivate yoda');
  await yoda.waitFor('hans asks for a private chat: type "accept hans" or "decline hans"');
  yoda.write('accept hans');
  await hans.waitFor('Private chat with yoda is open');
  await yoda.waitFor('Private chat with hans is open');
}

describe('private chat between two real clients', () => {
  test('accept, talk both ways; the server never sees the text, only that the user was active (P2P-2, P2P-3, P2P-6)', async () => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    await openChat(hans, yoda);
    hans.write('private yoda the secret plans are in R2');
    await yoda.waitFor('hans (private): the secret plans are in R2');
    yoda.write('private hans noted 🙂');
    await hans.waitFor('yoda (private): noted 🙂');
    await until(() => proxy.linesStartingWith('active').length >= 2, 'two active lines');
    expect(proxy.toServer).not.toContain('secret plans');
    expect(proxy.toServer).not.toContain('noted');
    expect(proxy.linesStartingWith('p2pport')).toHaveLength(2);
  });

  test('decline: the requester is told', async () => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    hans.write('startprivate yoda');
    await yoda.waitFor('asks for a private chat');
    yoda.write('decline hans');
    await hans.waitFor('yoda declined your private chat');
  });

  test('no answer: the request lapses and both are told', async () => {
    await setup({ privateRequestMs: 300 });
    const hans = await client('hans');
    const yoda = await client('yoda');
    hans.write('startprivate yoda');
    await yoda.waitFor('asks for a private chat');
    await hans.waitFor(/private-chat request between you and yoda lapsed \(no answer\)/);
    await yoda.waitFor(/private-chat request between you and hans lapsed/);
  });

  test('errors: blocked requester, offline, self, unknown, duplicate, and private before startprivate', async () => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    const vader = await client('vader');
    yoda.write('block vader');
    await yoda.waitFor('vader is blocked');
    vader.write('startprivate yoda');
    await vader.waitFor('You cannot start a private chat with yoda: they have blocked you');
    hans.write('startprivate leia');
    await hans.waitFor('leia is not online');
    hans.write('startprivate hans');
    await hans.waitFor('You cannot start a private chat with yourself');
    hans.write('startprivate nobody');
    await hans.waitFor('There is no user called nobody');
    hans.write('private yoda too early');
    await hans.waitFor('You have no private chat with yoda: run startprivate yoda first');
    await openChat(hans, yoda);
    hans.write('startprivate yoda');
    await hans.waitFor('You already have a private chat with yoda');
    expect(yoda.stdout).not.toContain('too early');
  });

  test.each([['hans'], ['yoda']])('stopprivate from %s: the other side is told and the chat is over (P2P-4)', async (who) => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    await openChat(hans, yoda);
    const [stopper, other, otherName, stopperName] = who === 'hans' ? [hans, yoda, 'yoda', 'hans'] : [yoda, hans, 'hans', 'yoda'];
    stopper.write(`stopprivate ${otherName}`);
    await stopper.waitFor(`Private chat with ${otherName} closed`);
    await other.waitFor(`Private chat with ${stopperName} closed: ${stopperName} closed it`);
    other.write(`private ${stopperName} are you there?`);
    await other.waitFor(`You have no private chat with ${stopperName}`);
    expect(stopper.stdout).not.toContain('are you there?');
  });

  test('a peer killed mid-chat: the other side is told, and private fails (P2P-3, P2P-5)', async () => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    await openChat(hans, yoda);
    yoda.kill();
    await hans.waitFor(/Private chat with yoda closed: yoda (disconnected|cannot be reached)/);
    hans.write('private yoda hello?');
    await hans.waitFor('You have no private chat with yoda');
    // Shown once, though both the direct socket and the server said so.
    await hans.waitFor('yoda logged out');
    expect(hans.stdout.match(/Private chat with yoda closed/g)).toHaveLength(1);
  });

  test('logout closes every private chat and each peer is told (P2P-5)', async () => {
    await setup();
    const hans = await client('hans');
    const yoda = await client('yoda');
    await openChat(hans, yoda);
    hans.endInput();
    expect(await hans.exited).toBe(0);
    await yoda.waitFor(/Private chat with hans closed: hans (logged out|closed it|disconnected)/);
    expect(yoda.stdout.match(/Private chat with hans closed/g)).toHaveLength(1);
  });

  test('a user who only sends private messages does not time out (P2P-6)', async () => {
    const clock = new FakeClock();
    await setup({ clock, timeoutSeconds: 30 });
    const hans = await client('hans');
    const yoda = await client('yoda');
    clock.advance(20_000);
    await openChat(hans, yoda);
    // hans types nothing but private messages; yoda keeps the session alive by other means.
    for (let i = 1; i <= 3; i++) {
      clock.advance(20_000);
      yoda.write('whoelse');
      await yoda.waitFor(new RegExp(`(online now[^\\n]*\\n[\\s\\S]*){${i}}`));
      hans.write(`private yoda ping ${i}`);
      await yoda.waitFor(`hans (private): ping ${i}`);
      await until(() => proxy.linesStartingWith('active').length >= i, `active #${i}`);
      await until(() => server.server.state.sessions.get('hans')?.lastActive === clock.now, 'the server to count it');
    }
    expect(server.server.state.sessions.has('hans')).toBe(true);
    clock.advance(30_000);
    expect(await hans.exited).toBe(4);
  });
});

// One file of hostile input against a real server (PROTO-3): each misbehaving client gets an
// error or a closed connection, and a well-behaved client connected meanwhile keeps working.

import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { MAX_LINE_BYTES } from '../../src/protocol/limits.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { SAMPLE_CREDENTIALS, startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
let bystander: RawClient;
let friend: RawClient;
const clients: RawClient[] = [];
async function raw(): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await startTestServer();
  bystander = await as(server.port, 'yoda');
  friend = await as(server.port, 'leia');
  clients.push(bystander, friend);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server.stop();
});

/** The well-behaved users still chat normally. */
async function othersStillServed(): Promise<void> {
  expect((await bystander.request('message leia still here')).code).toBe('delivered');
  expect(await friend.event('message', { body: 'still here' })).toBeTruthy();
  expect((await friend.request('whoelse')).type).toBe('ok');
}

describe('PROTO-3 misbehaving clients', () => {
  test('a 1 MiB line without a newline: refused, connection closed, nothing buffered', async () => {
    const c = await raw();
    const big = Buffer.alloc(1024 * 1024, 0x61);
    c.write(big);
    expect(await c.event('error', { code: 'line-too-long' })).toMatchObject({ text: expect.stringContaining(String(MAX_LINE_BYTES)) });
    await c.waitClosed();
    await othersStillServed();
  });

  test('an over-long line from a logged-in user closes only that session', async () => {
    const c = await as(server.port, 'hans');
    clients.push(c);
    c.write(`message yoda ${'x'.repeat(MAX_LINE_BYTES)}\n`);
    await c.waitClosed();
    await bystander.presence('hans', false);
    await othersStillServed();
  });

  test('random bytes get errors, never a crash', async () => {
    const c = await raw();
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 50; i++) {
      const chunk = Uint8Array.from({ length: 200 }, rnd);
      c.write(chunk);
    }
    c.write('\n#done whoelse\n');
    // Either the connection was closed (a random run longer than the limit cannot happen here)
    // or it answers the last, valid line with the not-logged-in error.
    expect(await c.waitFor((l) => l.re === 'done')).toMatchObject({ type: 'error', code: 'not-logged-in' });
    expect(c.seen((l) => l.type === 'error').length).toBeGreaterThan(1);
    await othersStillServed();
  });

  test('invalid UTF-8 gets an error and the connection stays usable', async () => {
    const c = await raw();
    c.write(Uint8Array.of(0x6c, 0x6f, 0xc3, 0x28, 0x0a));
    expect(await c.event('error', { code: 'bad-utf8' })).toBeTruthy();
    await c.login('hans', 'falcon*solo');
  });

  test('commands before login get an error that says to log in first', async () => {
    const c = await raw();
    for (const line of ['whoelse', 'message yoda hi', 'broadcast hi', 'block yoda', 'logout', 'ack 5', 'startprivate yoda']) {
      const reply = await c.request(line);
      expect(reply).toMatchObject({ type: 'error', code: 'not-logged-in' });
      expect(String(reply.text)).toContain('login');
    }
    expect(friend.received).not.toContain('"hi"');
    await othersStillServed();
  });

  test('login commands after login are refused', async () => {
    const c = await as(server.port, 'hans');
    clients.push(c);
    expect((await c.request('login yoda')).code).toBe('already-logged-in');
  });

  test('a client that disconnects mid-command is logged out; half a line is never run', async () => {
    const c = await as(server.port, 'hans');
    clients.push(c);
    c.write('message leia this never ends');
    c.kill();
    await bystander.presence('hans', false);
    await othersStillServed();
    expect(friend.seen((l) => l.type === 'message' && l.body === 'this never ends')).toEqual([]);
  });

  test('a disconnect while the password is being checked leaves no session behind', async () => {
    const c = await raw();
    c.write('login hans\npassword falcon*solo\n');
    c.kill();
    const again = await as(server.port, 'hans');
    clients.push(again);
    await othersStillServed();
  });

  test('bare CR, NUL and escape sequences are refused', async () => {
    const c = await as(server.port, 'hans');
    clients.push(c);
    for (const bad of ['message leia a\rb', 'message leia \u0000', 'message leia \u001b[2J']) {
      expect((await c.request(bad)).code).toBe('bad-characters');
    }
    await othersStillServed();
  });

  test('blank lines are ignored', async () => {
    const c = await raw();
    c.write('\n  \n\t\n');
    expect((await c.request('login hans')).code).toBe('password');
    expect(c.lines).toHaveLength(1);
  });
});

describe('PROTO-2 replies match requests while events arrive', () => {
  test('each reply carries the tag of its request; events carry none', async () => {
    const hans = await as(server.port, 'hans');
    clients.push(hans);
    // Interleave: bystander sends messages while hans pipelines tagged requests.
    hans.write('#a whoelse\n#b message nobody x\n#c whoelsesince 10\n');
    for (let i = 0; i < 5; i++) bystander.send(`message hans event ${i}`);
    hans.write('#d block vader\n');
    const a = await hans.waitFor((l) => l.re === 'a');
    const b = await hans.waitFor((l) => l.re === 'b');
    const c = await hans.waitFor((l) => l.re === 'c');
    const d = await hans.waitFor((l) => l.re === 'd');
    expect([a.code, b.code, c.code, d.code]).toEqual(['users', 'no-such-user', 'users', 'blocked']);
    for (let i = 0; i < 5; i++) expect(await hans.event('message', { body: `event ${i}` })).not.toHaveProperty('re');
  });
});

describe('SEC-1 parallel guesses, pipelined on many connections', () => {
  test('30 connections each send login and three guesses in one write: three guesses are checked in all, the name locks, the bystanders chat on', async () => {
    // hans's password hashed: checks take time off the event loop, so guesses overlap.
    const hash = await Bun.password.hash('falcon*solo', { algorithm: 'argon2id', memoryCost: 1024, timeCost: 1 });
    for (const c of clients.splice(0)) c.kill();
    await server.stop();
    server = await startTestServer({ credentials: SAMPLE_CREDENTIALS.replace('hans falcon*solo', `hans ${hash}`) });
    bystander = await as(server.port, 'yoda');
    friend = await as(server.port, 'leia');
    clients.push(bystander, friend);
    const guessers = await Promise.all(Array.from({ length: 30 }, () => raw()));
    for (const [i, c] of guessers.entries()) c.write(`#a login hans\n#b password g${i}x\n#c password g${i}y\n#d password g${i}z\n`);
    await othersStillServed();
    await Promise.all(guessers.map((c) => c.waitClosed()));
    const replies = guessers.flatMap((c) => c.seen((l) => l.type === 'error'));
    expect(replies.filter((l) => l.code === 'wrong-password')).toHaveLength(2);
    expect(replies.filter((l) => String(l.text).startsWith('Wrong password 3 times'))).toHaveLength(1);
    expect(replies.every((l) => l.code === 'wrong-password' || l.code === 'locked')).toBe(true);
    expect(server.server.state.isLocked('hans')).toBe(true);
    const owner = await raw();
    expect(await owner.request('login hans')).toMatchObject({ code: 'locked' });
    await othersStillServed();
  });
});

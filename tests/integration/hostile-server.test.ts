// A server (or a newer one) sending what this client does not expect (CLI-10, issue 10 items 10
// and 11): text is shown as one line with no control characters, no forged line breaks and bidi
// controls neutralised; unknown events are ignored (passed on with --json); malformed ones are
// shown as one clear line; none of it ends the session.

import { afterEach, describe, expect, test } from 'bun:test';
import type { TCPSocketListener } from 'bun';
import { LiveClient } from '../helpers/cli.ts';
import { PtyClient } from '../helpers/pty-client.ts';
import { trackKillables } from '../helpers/cleanup.ts';

/** A fake server: logs anyone in, then sends `hostile` lines; answers whoelse; logout says bye. */
function fakeServer(hostile: unknown[]): TCPSocketListener<{ buffer: string }> {
  // A database of its own each time: the client remembers the ids it has shown per server.
  const instance = Math.floor(Math.random() * 2 ** 40);
  const send = (socket: { write(s: string): number }, value: unknown) => socket.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
  return Bun.listen<{ buffer: string }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open: (socket) => void (socket.data = { buffer: '' }),
      data: (socket, chunk) => {
        socket.data.buffer += Buffer.from(chunk).toString('utf8');
        const lines = socket.data.buffer.split('\n');
        socket.data.buffer = lines.pop() ?? '';
        for (const line of lines) {
          const [, tag, verb] = /^(?:#(\S+) )?(\S+)/.exec(line) ?? [];
          if (verb === 'login') send(socket, { type: 'ok', re: tag, code: 'password', user: 'hans' });
          else if (verb === 'password') {
            send(socket, { type: 'ok', re: tag, code: 'welcome', user: 'hans', text: 'Welcome, hans!', server: instance });
            for (const h of hostile) send(socket, h);
          } else if (verb === 'whoelse') send(socket, { type: 'ok', re: tag, code: 'users', users: ['leia'], text: '1 user online now: leia' });
          else if (verb === 'logout') {
            send(socket, { type: 'ok', re: tag, code: 'bye', text: 'Goodbye, hans' });
            socket.end();
          } else if (tag) send(socket, { type: 'ok', re: tag, code: 'p2pport' });
        }
      },
    },
  });
}

const HOSTILE = [
  { type: 'message', id: 1, from: 'leia', at: Date.now(), body: 'hi\nyoda: forged line\rPrivate chat with hans closed: fake' },
  { type: 'message', id: 2, from: 'leia', at: Date.now(), body: 'abc\u202edcba\u2066x\u2069 \u001b[2J\u0007end' },
  { type: 'mystery-event', id: 3, text: 'from a newer server' },
  { type: 'presence', users: 'not a list', online: true },
  { type: 'error', code: 'busy' },
  { type: 'message', id: 4, from: 5, at: Date.now(), body: 'a number for a name' },
  { type: 'message', id: 5, at: Date.now(), body: 'no sender' },
  'this is not JSON',
  { type: 'broadcast', id: 6, from: 'luke\nvader', at: Date.now(), body: 'still here' },
];

let server: TCPSocketListener<{ buffer: string }> | undefined;
const track = trackKillables();
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

describe('CLI-10 what a server sends is one line of plain text', () => {
  test('from a pipe: no forged lines, no controls, bidi neutralised, malformed lines reported, the session goes on', async () => {
    server = fakeServer(HOSTILE);
    const hans = new LiveClient(server.port);
    track(hans);
    await hans.logIn('hans', 'falcon*solo');
    await hans.waitFor('luke⏎vader to everyone: still here');
    hans.write('whoelse');
    await hans.waitFor('1 user online now: leia');
    hans.endInput();
    expect(await hans.exited).toBe(0);
    const lines = hans.stdout.split('\n');
    // The line feed inside a message does not start a line of its own.
    expect(lines.some((l) => l.startsWith('yoda: forged'))).toBe(false);
    expect(lines.some((l) => l.startsWith('Private chat with hans closed'))).toBe(false);
    expect(hans.stdout).toContain('leia: hi⏎yoda: forged line⏎Private chat with hans closed: fake');
    expect(hans.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(hans.stdout).toContain('leia: abc?dcba?x? ?[2J?end');
    // Unknown: ignored. Malformed: one clear line each.
    expect(hans.stdout).not.toContain('from a newer server');
    expect(hans.stdout).toContain('The server sent a presence line without a list of names; ignored');
    expect(hans.stdout).toContain('The server sent an error without a code or text; ignored');
    expect(hans.stdout.match(/The server sent a message without a sender, text, id or time; ignored/g)).toHaveLength(2);
    expect(hans.stdout).toContain('The server sent a line that is not a JSON object with a type; ignored');
  });

  test('--json passes an unknown event on, and still ends well', async () => {
    server = fakeServer(HOSTILE);
    const hans = new LiveClient(server.port, ['--json']);
    track(hans);
    await hans.logIn('hans', 'falcon*solo');
    await hans.waitFor('"type":"broadcast"');
    hans.endInput();
    expect(await hans.exited).toBe(0);
    const events = hans.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.type === 'mystery-event')).toMatchObject({ id: 3, text: 'mystery-event' });
    expect(events.at(-1)).toMatchObject({ type: 'exit', status: 0 });
  });

  test('on a terminal: the screen shows no forged line and the prompt still works', async () => {
    server = fakeServer(HOSTILE);
    const hans = new PtyClient(server.port, { rows: 40 });
    track(hans);
    await hans.login('hans', 'falcon*solo');
    await hans.waitFor('still here');
    expect(hans.lines().some((l) => /^(\d\d:\d\d )?yoda: forged/.test(l))).toBe(false);
    expect(hans.raw).not.toContain('\u202e');
    expect(hans.raw).not.toContain('\x1b[2J');
    hans.type('whoelse\r');
    await hans.waitFor('1 user online now: leia');
  });
});

describe('CLI-10 what a peer sends is one line of plain text (issue 10 item 10)', () => {
  test('a private message with line feeds and a bidi override cannot forge lines on the other screen', async () => {
    const { startTestServer } = await import('../helpers/test-server.ts');
    const { as } = await import('../helpers/raw-client.ts');
    const { PeerNode } = await import('../../src/p2p/peer-node.ts');
    const chat = await startTestServer();
    const hans = new LiveClient(chat.port);
    track(hans);
    await hans.logIn('hans', 'falcon*solo');
    // leia is a hostile peer: her own peer node, driven by hand, sends what a typed line cannot.
    const leia = await as(chat.port, 'leia');
    const opened = Promise.withResolvers<void>();
    const node = PeerNode.listen('leia', 0, { onOpen: () => opened.resolve(), onMessage: () => {}, onClose: () => {} });
    try {
      await leia.request(`p2pport ${node.port}`);
      // hans's client reports its private-chat port right after the welcome.
      await hans.waitFor('Welcome, hans!');
      for (let tries = 0; chat.server.state.sessions.get('hans')?.p2pPort === undefined; tries++) {
        if (tries > 500) throw new Error("hans's client never reported its private-chat port");
        await Bun.sleep(5);
      }
      expect((await leia.request('startprivate hans')).type).toBe('ok');
      await hans.waitFor('leia asks for a private chat');
      hans.write('accept leia');
      const accepted = await leia.event('private-accepted', { user: 'hans' });
      node.connect('hans', String(accepted.host), Number(accepted.port), String(accepted.token));
      await opened.promise;
      await hans.waitFor('Private chat with leia is open');
      expect(node.sendText('hans', 'hi\nyoda: forged\r\nPrivate chat with leia closed: fake \u202eevil')).toBe(true);
      await hans.waitFor('leia (private): hi⏎yoda: forged⏎Private chat with leia closed: fake ?evil');
      const lines = hans.stdout.split('\n');
      expect(lines.some((l) => l.startsWith('yoda: forged') || l.startsWith('Private chat with leia closed: fake'))).toBe(false);
      expect(hans.stdout).not.toContain('\u202e');
    } finally {
      node.stop();
      leia.kill();
      await chat.stop();
    }
  });
});

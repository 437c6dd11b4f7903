// The client's private-chat listener against real sockets (P2P-2, P2P-3): only the right token
// for the right requester, once; strangers get nothing.

import { afterEach, describe, expect, test } from 'bun:test';
import { PeerNode } from '../../src/p2p/peer-node.ts';

const TOKEN = '0123456789abcdef0123456789abcdef';

interface Recorded {
  opened: string[];
  messages: [string, string][];
  closed: [string, string][];
}

function node(me: string, handshakeMs = 5000): [PeerNode, Recorded] {
  const rec: Recorded = { opened: [], messages: [], closed: [] };
  const n = PeerNode.listen(me, 0, {
    onOpen: (u) => rec.opened.push(u),
    onMessage: (u, t) => rec.messages.push([u, t]),
    onClose: (u, r) => rec.closed.push([u, r]),
  }, handshakeMs);
  nodes.push(n);
  return [n, rec];
}
const nodes: PeerNode[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.stop();
});

/** A raw TCP client: what it received, and when it was closed. */
async function stranger(port: number, send?: string): Promise<{ received: () => string; closed: Promise<void>; kill: () => void }> {
  let received = '';
  let onClose!: () => void;
  const closed = new Promise<void>((r) => (onClose = r));
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: { data: (_s, d) => void (received += Buffer.from(d).toString()), close: () => onClose(), error: () => onClose() },
  });
  if (send !== undefined) socket.write(send);
  return { received: () => received, closed, kill: () => socket.terminate() };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

describe('PeerNode', () => {
  test('with the token the server gave, the requester connects and both can talk (P2P-3)', async () => {
    const [yoda, yodaRec] = node('yoda');
    const [hans, hansRec] = node('hans');
    yoda.expect('hans', TOKEN);
    hans.connect('yoda', '127.0.0.1', yoda.port, TOKEN);
    await until(() => hansRec.opened.length === 1 && yodaRec.opened.length === 1, 'both open');
    expect(hansRec.opened).toEqual(['yoda']);
    expect(yodaRec.opened).toEqual(['hans']);
    expect(hans.sendText('yoda', 'hello 🙂')).toBe(true);
    expect(yoda.sendText('hans', 'hi back')).toBe(true);
    await until(() => yodaRec.messages.length === 1 && hansRec.messages.length === 1, 'messages');
    expect(yodaRec.messages).toEqual([['hans', 'hello 🙂']]);
    expect(hansRec.messages).toEqual([['yoda', 'hi back']]);
    // P2P-4: closing from one side tells the other.
    hans.close('yoda');
    await until(() => yodaRec.closed.length === 1, 'close');
    expect(yodaRec.closed).toEqual([['hans', 'stopped']]);
    expect(hansRec.closed).toEqual([]);
    expect(yoda.sendText('hans', 'gone?')).toBe(false);
  });

  test('a wrong token is refused at once, without a byte', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const s = await stranger(yoda.port, `hello hans ${'f'.repeat(32)}\n`);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('the right token for the wrong requester is refused', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const s = await stranger(yoda.port, `hello vader ${TOKEN}\n`);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a token works once: a reused one is refused', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const first = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    await until(() => first.received() === 'welcome yoda\n', 'welcome');
    const second = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    await second.closed;
    expect(second.received()).toBe('');
    expect(rec.opened).toEqual(['hans']);
  });

  test('a port scanner that sends nothing gets nothing and is dropped after the handshake deadline', async () => {
    const [yoda] = node('yoda', 200);
    const s = await stranger(yoda.port);
    await s.closed;
    expect(s.received()).toBe('');
  });

  test('garbage instead of a hello is dropped at once', async () => {
    const [yoda] = node('yoda');
    const s = await stranger(yoda.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await s.closed;
    expect(s.received()).toBe('');
  });

  test('a peer that cannot be reached is reported as unreachable', async () => {
    const [hans, rec] = node('hans');
    const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    hans.connect('yoda', '127.0.0.1', port, TOKEN);
    await until(() => rec.closed.length === 1, 'unreachable');
    expect(rec.closed).toEqual([['yoda', 'unreachable']]);
  });

  test('a peer that vanishes mid-chat, without a bye, is reported as disconnected (P2P-5)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const hans = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    await until(() => rec.opened.length === 1, 'open');
    hans.kill();
    await until(() => rec.closed.length === 1, 'close');
    expect(rec.closed).toEqual([['hans', 'disconnected']]);
  });

  test('a hello that beats the server’s reply to our accept waits for the token instead of being refused', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    const early = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    const other = await stranger(yoda.port, `hello vader ${TOKEN}\n`);
    await other.closed;
    await until(() => yoda.waitingHellos === 1, 'the hello to wait');
    expect(rec.opened).toEqual([]);
    yoda.expect('hans', TOKEN);
    await until(() => early.received() === 'welcome yoda\n', 'welcome after the token came');
    expect(rec.opened).toEqual(['hans']);
  });

  test('a waiting hello is refused when the accept fails', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    const early = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    await until(() => yoda.waitingHellos === 1, 'the hello to wait');
    yoda.refuse('hans');
    await early.closed;
    expect(early.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });
});

// The client's private-chat listener against real sockets (P2P-2, P2P-3): only a hello that proves
// the right token for the right requester, once; strangers get nothing.

import { afterEach, describe, expect, test } from 'bun:test';
import { PeerNode } from '../../src/p2p/peer-node.ts';
import { MAX_TOKEN_FAILURES } from '../../src/p2p/peer-protocol.ts';
import { Channel, helloMac, newEphemeral, newNonce, sharedSecret, tokenKey, welcomeMac, type Ephemeral } from '../../src/p2p/peer-crypto.ts';
import { MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';

const TOKEN = '0123456789abcdef0123456789abcdef';
const WRONG = 'f'.repeat(32);

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

interface Hello {
  line: string;
  nonce: string;
  ephemeral: Ephemeral;
}

/** A hello as `requester` would send it to `peer`, keyed by `token`, with a fresh ephemeral key. */
function hello(requester: string, token: string, peer = 'yoda', nonce = newNonce()): Hello {
  const ephemeral = newEphemeral();
  const ePub = ephemeral.publicKey;
  return { line: `hello ${requester} ${nonce} ${ePub} ${helloMac(tokenKey(token), requester, peer, nonce, ePub)}\n`, nonce, ephemeral };
}

/** A raw TCP client: what it received, and when it was closed. */
async function stranger(port: number, send?: string): Promise<{ received: () => string; closed: Promise<void>; kill: () => void; write: (s: string) => void }> {
  let received = '';
  let onClose!: () => void;
  const closed = new Promise<void>((r) => (onClose = r));
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: { data: (_s, d) => void (received += Buffer.from(d).toString()), close: () => onClose(), error: () => onClose() },
  });
  if (send !== undefined) socket.write(send);
  return { received: () => received, closed, kill: () => socket.terminate(), write: (s) => void socket.write(s) };
}

/** Checks the welcome `received` answers hello `h` for a requester holding `token`; returns the requester's channel. */
function checkWelcome(received: string, h: Hello, token = TOKEN, requester = 'hans', peer = 'yoda'): Channel {
  const m = /^welcome (\S+) ([0-9a-f]{32}) ([0-9a-f]{64}) ([0-9a-f]{64})\n$/.exec(received);
  if (!m) throw new Error(`not a welcome: ${JSON.stringify(received)}`);
  const [nonceP, ePubP] = [m[2] as string, m[3] as string];
  expect(m[1]).toBe(peer);
  expect(m[4]).toBe(welcomeMac(tokenKey(token), requester, peer, h.nonce, nonceP, h.ephemeral.publicKey, ePubP));
  const shared = sharedSecret(h.ephemeral, ePubP);
  if (!shared) throw new Error('no shared secret');
  return Channel.forRequester(tokenKey(token), shared, h.nonce, nonceP);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** yoda's node, and "hans" as a raw socket that has done the handshake by hand: the chat is open. */
async function openByHand() {
  const [yoda, rec] = node('yoda');
  yoda.expect('hans', TOKEN);
  const h = hello('hans', TOKEN);
  const hans = await stranger(yoda.port, h.line);
  await until(() => rec.opened.length === 1 && hans.received().endsWith('\n'), 'open');
  return { yoda, rec, hans, channel: checkWelcome(hans.received(), h) };
}

describe('PeerNode', () => {
  test('with the token the server gave, the requester connects and both can talk (P2P-2, P2P-3)', async () => {
    const [yoda, yodaRec] = node('yoda');
    const [hans, hansRec] = node('hans');
    yoda.expect('hans', TOKEN);
    hans.connect('yoda', '127.0.0.1', yoda.port, TOKEN);
    await until(() => hansRec.opened.length === 1 && yodaRec.opened.length === 1, 'both open');
    expect(hansRec.opened).toEqual(['yoda']);
    expect(yodaRec.opened).toEqual(['hans']);
    expect(hans.isOpen('yoda')).toBe(true);
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

  test('long texts arrive whole: MAX_TEXT_CHARS emoji in one message, longer ones as several (P2P-3)', async () => {
    const [yoda, yodaRec] = node('yoda');
    const [hans, hansRec] = node('hans');
    yoda.expect('hans', TOKEN);
    hans.connect('yoda', '127.0.0.1', yoda.port, TOKEN);
    await until(() => hansRec.opened.length === 1 && yodaRec.opened.length === 1, 'both open');
    const emoji = '🙂'.repeat(MAX_TEXT_CHARS);
    const control = '\u0001'.repeat(MAX_TEXT_CHARS);
    hans.sendText('yoda', emoji);
    hans.sendText('yoda', control);
    hans.sendText('yoda', 'x'.repeat(MAX_TEXT_CHARS + 1));
    await until(() => yodaRec.messages.length === 4, 'messages');
    expect(yodaRec.messages).toEqual([
      ['hans', emoji],
      ['hans', control],
      ['hans', 'x'.repeat(MAX_TEXT_CHARS)],
      ['hans', 'x'],
    ]);
    expect(yodaRec.closed).toEqual([]);
  });

  test('a hello with a wrong token is refused at once, without a byte (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const s = await stranger(yoda.port, hello('hans', WRONG).line);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a stranger’s bad hello does not lock the real requester out; a few of them do (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const guess = await stranger(yoda.port, hello('hans', WRONG).line);
    await guess.closed;
    expect(guess.received()).toBe('');
    const real = await stranger(yoda.port, hello('hans', TOKEN).line);
    await until(() => rec.opened.length === 1, 'the real requester to get in');
    expect(real.received()).toStartWith('welcome yoda ');
    // Once used, the token is gone.
    const again = await stranger(yoda.port, hello('hans', TOKEN).line);
    await again.closed;
    expect(again.received()).toBe('');
    // Three bad hellos drop the token.
    yoda.expect('leia', TOKEN);
    for (let i = 0; i < MAX_TOKEN_FAILURES; i++) await (await stranger(yoda.port, hello('leia', WRONG).line)).closed;
    const late = await stranger(yoda.port, hello('leia', TOKEN).line);
    await late.closed;
    expect(late.received()).toBe('');
  });

  test('the old hello, with the token in the clear, is refused without a byte (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const s = await stranger(yoda.port, `hello hans ${TOKEN}\n`);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('the v1 hello (no ephemeral key, v1 MAC) is refused without a byte, and does not spend the token', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const v1 = await stranger(yoda.port, `hello hans ${'0'.repeat(32)} ${'d'.repeat(64)}\n`);
    await v1.closed;
    expect(v1.received()).toBe('');
    const real = await stranger(yoda.port, hello('hans', TOKEN).line);
    await until(() => real.received().endsWith('\n'), 'welcome');
    expect(rec.opened).toEqual(['hans']);
  });

  test('a hello whose ephemeral key was swapped after the MAC is refused without a byte (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const h = hello('hans', TOKEN);
    const swapped = h.line.replace(h.ephemeral.publicKey, newEphemeral().publicKey);
    expect(swapped).not.toBe(h.line);
    const s = await stranger(yoda.port, swapped);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a hello with a small-order ephemeral key is refused without a byte, even with the right MAC', async () => {
    const [yoda, rec] = node('yoda');
    for (const bad of ['0'.repeat(64), `01${'0'.repeat(62)}`, 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      yoda.expect('hans', TOKEN);
      const nonce = newNonce();
      const s = await stranger(yoda.port, `hello hans ${nonce} ${bad} ${helloMac(tokenKey(TOKEN), 'hans', 'yoda', nonce, bad)}\n`);
      await s.closed;
      expect(s.received()).toBe('');
    }
    expect(rec.opened).toEqual([]);
    expect(rec.closed).toEqual([]);
  });

  test('the right token from the wrong requester is refused, and the right one can still connect (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    // vader knows the token (say hans leaked it) but the MAC binds the requester's name.
    const asVader = await stranger(yoda.port, hello('vader', TOKEN).line);
    await asVader.closed;
    expect(asVader.received()).toBe('');
    // A hello claiming to be hans, keyed as vader's: the name in the MAC does not match.
    const nonce = newNonce();
    const ePub = newEphemeral().publicKey;
    const forged = await stranger(yoda.port, `hello hans ${nonce} ${ePub} ${helloMac(tokenKey(TOKEN), 'vader', 'yoda', nonce, ePub)}\n`);
    await forged.closed;
    expect(forged.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a hello meant for another peer is refused (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const s = await stranger(yoda.port, hello('hans', TOKEN, 'leia').line);
    await s.closed;
    expect(s.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a token works once: a reused one (even the very same hello, replayed) is refused (P2P-2)', async () => {
    const [yoda, rec] = node('yoda');
    yoda.expect('hans', TOKEN);
    const h = hello('hans', TOKEN);
    const first = await stranger(yoda.port, h.line);
    await until(() => first.received().endsWith('\n'), 'welcome');
    checkWelcome(first.received(), h);
    const replayed = await stranger(yoda.port, h.line);
    await replayed.closed;
    expect(replayed.received()).toBe('');
    const fresh = await stranger(yoda.port, hello('hans', TOKEN).line);
    await fresh.closed;
    expect(fresh.received()).toBe('');
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
    const { rec, hans, channel } = await openByHand();
    hans.write(`box ${channel.seal('{"t":"msg","text":"by hand"}')}\n`);
    await until(() => rec.messages.length === 1, 'message');
    expect(rec.messages).toEqual([['hans', 'by hand']]);
    hans.kill();
    await until(() => rec.closed.length === 1, 'close');
    expect(rec.closed).toEqual([['hans', 'disconnected']]);
  });

  test.each([
    ['a plain-text line', () => 'msg hi'],
    ['a plain-text bye', () => 'bye'],
    ['a second hello', () => hello('hans', TOKEN).line.slice(0, -1)],
    ['a box sealed with the wrong key', () => `box ${Channel.forPeer(tokenKey(TOKEN), Buffer.alloc(32, 1), '0'.repeat(32), '1'.repeat(32)).seal('{"t":"bye"}')}`],
  ])('after the handshake, %s closes the chat as disconnected (P2P-3)', async (_what, line) => {
    const { rec, hans } = await openByHand();
    hans.write(`${line()}\n`);
    await hans.closed;
    await until(() => rec.closed.length === 1, 'close');
    expect(rec.closed).toEqual([['hans', 'disconnected']]);
    expect(rec.messages).toEqual([]);
  });

  test('a box that holds no valid payload closes the chat (P2P-3)', async () => {
    const { rec, hans, channel } = await openByHand();
    hans.write(`box ${channel.seal('{"t":"msg","text":"ok"}')}\nbox ${channel.seal('{"t":"shout","text":"no"}')}\n`);
    await hans.closed;
    await until(() => rec.closed.length === 1, 'close');
    expect(rec.messages).toEqual([['hans', 'ok']]);
    expect(rec.closed).toEqual([['hans', 'disconnected']]);
  });

  test('a message in parts longer than MAX_TEXT_CHARS characters closes the chat (P2P-3)', async () => {
    const { rec, hans, channel } = await openByHand();
    const part = (text: string, more: boolean) => `box ${channel.seal(JSON.stringify(more ? { t: 'msg', text, more } : { t: 'msg', text }))}\n`;
    hans.write(part('x'.repeat(MAX_TEXT_CHARS / 2), true) + part('x'.repeat(MAX_TEXT_CHARS / 2), false));
    await until(() => rec.messages.length === 1, 'a message of exactly the limit');
    hans.write(part('x'.repeat(MAX_TEXT_CHARS / 2), true) + part('x'.repeat(MAX_TEXT_CHARS / 2), true) + part('x', false));
    await hans.closed;
    await until(() => rec.closed.length === 1, 'close');
    expect(rec.messages).toEqual([['hans', 'x'.repeat(MAX_TEXT_CHARS)]]);
    expect(rec.closed).toEqual([['hans', 'disconnected']]);
  });

  test('a hello that beats the server’s reply to our accept waits for the token instead of being refused', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    const h = hello('hans', TOKEN);
    const early = await stranger(yoda.port, h.line);
    const other = await stranger(yoda.port, hello('vader', TOKEN).line);
    await other.closed;
    await until(() => yoda.waitingHellos === 1, 'the hello to wait');
    expect(rec.opened).toEqual([]);
    expect(early.received()).toBe('');
    yoda.expect('hans', TOKEN);
    await until(() => early.received().endsWith('\n'), 'welcome after the token came');
    const channel = checkWelcome(early.received(), h);
    expect(rec.opened).toEqual(['hans']);
    // The chat works after the wait.
    early.write(`box ${channel.seal('{"t":"msg","text":"made it"}')}\n`);
    await until(() => rec.messages.length === 1, 'message');
    expect(rec.messages).toEqual([['hans', 'made it']]);
  });

  test('a waiting hello with the wrong token is refused when the token comes', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    const early = await stranger(yoda.port, hello('hans', WRONG).line);
    await until(() => yoda.waitingHellos === 1, 'the hello to wait');
    yoda.expect('hans', TOKEN);
    await early.closed;
    expect(early.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a line after a waiting hello, before the welcome, closes the connection', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    // Even a second well-formed hello: the requester must wait for the welcome.
    const early = await stranger(yoda.port, `${hello('hans', TOKEN).line}${hello('hans', TOKEN).line}`);
    await early.closed;
    yoda.expect('hans', TOKEN);
    expect(early.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });

  test('a waiting hello is refused when the accept fails', async () => {
    const [yoda, rec] = node('yoda');
    yoda.awaitToken('hans');
    const early = await stranger(yoda.port, hello('hans', TOKEN).line);
    await until(() => yoda.waitingHellos === 1, 'the hello to wait');
    yoda.refuse('hans');
    await early.closed;
    expect(early.received()).toBe('');
    expect(rec.opened).toEqual([]);
  });
});

describe('PeerNode.close while connecting', () => {
  test('a chat closed before its connection is up never opens, on either side', async () => {
    const [yoda, yodaRec] = node('yoda');
    const [hans, hansRec] = node('hans');
    yoda.expect('hans', TOKEN);
    hans.connect('yoda', '127.0.0.1', yoda.port, TOKEN);
    hans.close('yoda');
    // Give the connection every chance to have opened.
    await Bun.sleep(100);
    expect(hansRec.opened).toEqual([]);
    expect(hansRec.closed).toEqual([]);
    expect(yodaRec.opened).toEqual([]);
  });
});

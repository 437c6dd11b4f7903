import { describe, expect, test } from 'bun:test';
import { MAX_LINE_BYTES, MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { Channel, tokenKey } from '../../src/p2p/peer-crypto.ts';
import {
  formatPayload,
  formatPeerLine,
  messagePayloads,
  parsePayload,
  parsePeerLine,
  PART_UNITS,
  Reassembler,
  MAX_TOKEN_FAILURES,
  TokenBook,
  type PeerLine,
  type PeerPayload,
} from '../../src/p2p/peer-protocol.ts';

const TOKEN = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);
const NONCE = '00112233445566778899aabbccddeeff';
const MAC = 'bded4081e4756ac75142bbdf0e75408d38c9fbfaad4336ef23ff644f999adac9';
const EPUB = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';

describe('peer protocol lines', () => {
  test('round trip', () => {
    const lines: PeerLine[] = [
      { kind: 'hello', user: 'hans', nonce: NONCE, ephemeral: EPUB, mac: MAC },
      { kind: 'welcome', user: 'yoda', nonce: NONCE, ephemeral: EPUB, mac: MAC },
      { kind: 'box', box: 'fMV7Mp2pjU/Km1LhMGGSxEYnBGipQga4bbjDwG6KX9GVOdE5pScl' },
      { kind: 'box', box: 'LFincLrwmKr/vvpTUvS5Lh2zR5Vvmu1Fq2pE' },
      { kind: 'box', box: 'ab/+cw==' },
    ];
    for (const line of lines) expect(parsePeerLine(formatPeerLine(line).slice(0, -1))).toEqual(line);
    expect(formatPeerLine({ kind: 'hello', user: 'hans', nonce: NONCE, ephemeral: EPUB, mac: MAC })).toBe(`hello hans ${NONCE} ${EPUB} ${MAC}\n`);
    expect(formatPeerLine({ kind: 'welcome', user: 'yoda', nonce: NONCE, ephemeral: EPUB, mac: MAC })).toBe(`welcome yoda ${NONCE} ${EPUB} ${MAC}\n`);
  });

  test.each([
    '',
    'hello hans',
    // The old hello, with the token in the clear, is not a line of this protocol (P2P-2).
    `hello hans ${TOKEN}`,
    `hello hans ${NONCE}`,
    // The v1 hello and welcome, without an ephemeral key, are not lines of this protocol.
    `hello hans ${NONCE} ${MAC}`,
    `welcome yoda ${NONCE} ${MAC}`,
    `hello hans ${NONCE} ${EPUB} ${MAC.slice(1)}`,
    `hello hans ${NONCE} ${EPUB.slice(1)} ${MAC}`,
    `hello hans ${NONCE} ${EPUB.toUpperCase()} ${MAC}`,
    `hello hans ${NONCE.toUpperCase()} ${EPUB} ${MAC}`,
    `hello hans ${NONCE} ${MAC} ${EPUB} extra`,
    `hello hans ${NONCE} ${EPUB}  ${MAC}`,
    `hello  ${NONCE} ${EPUB} ${MAC}`,
    'welcome yoda',
    `welcome yoda ${NONCE}`,
    `welcome yoda ${NONCE} ${EPUB}`,
    `welcome yoda ${NONCE} ${EPUB.toUpperCase()} ${MAC}`,
    'msg hi there',
    'bye',
    'box',
    'box ',
    'box a b',
    'box abc=d',
    'box ab==c',
    'GET / HTTP/1.1',
  ])('refuses %p', (line) => {
    expect(parsePeerLine(line)).toBeUndefined();
  });
});

describe('payloads (P2P-3)', () => {
  test('round trip, with fixed key order', () => {
    const payloads: PeerPayload[] = [
      { t: 'msg', text: 'hi there 🙂  spaced "quoted" \\ back' },
      { t: 'msg', text: 'part', more: true },
      { t: 'msg', text: '' },
      { t: 'bye' },
    ];
    for (const p of payloads) expect(parsePayload(formatPayload(p))).toEqual(p);
    expect(formatPayload({ t: 'msg', text: 'hi' })).toBe('{"t":"msg","text":"hi"}');
    expect(formatPayload({ t: 'msg', text: 'hi', more: true })).toBe('{"t":"msg","text":"hi","more":true}');
    expect(formatPayload({ t: 'bye' })).toBe('{"t":"bye"}');
  });

  test.each([
    '',
    'hi',
    'null',
    '[]',
    '"msg"',
    '{}',
    '{"t":"msg"}',
    '{"t":"msg","text":3}',
    '{"t":"msg","text":"x","more":false}',
    '{"t":"msg","text":"x","extra":1}',
    '{"t":"bye","text":"x"}',
    '{"t":"ping"}',
  ])('refuses %p', (json) => {
    expect(parsePayload(json)).toBeUndefined();
  });

  test('the worst text a part can hold still fits in one box line (MAX_LINE_BYTES)', () => {
    const channel = Channel.forRequester(tokenKey(TOKEN), Buffer.alloc(32, 1), NONCE, NONCE);
    // Control characters and lone surrogates cost 6 bytes each in JSON: the worst case.
    for (const unit of ['\u0001', '\ud800', '"', '🙂', 'x']) {
      const [first] = messagePayloads(unit.repeat(PART_UNITS * 2)) as [PeerPayload];
      const line = formatPeerLine({ kind: 'box', box: channel.seal(formatPayload(first)) });
      expect(Buffer.byteLength(line) - 1).toBeLessThanOrEqual(MAX_LINE_BYTES);
    }
  });

  test('a long message goes in parts and comes back whole; past MAX_TEXT_CHARS it becomes several messages', () => {
    const join = (payloads: PeerPayload[]): string[] => {
      const r = new Reassembler();
      const out: string[] = [];
      for (const p of payloads) {
        if (p.t !== 'msg') throw new Error('not a msg');
        const done = r.push(p);
        if (done === 'too-long') throw new Error('too long');
        if (done !== 'more') out.push(done.text);
      }
      return out;
    };
    expect(messagePayloads('hi')).toEqual([{ t: 'msg', text: 'hi' }]);
    expect(messagePayloads('')).toEqual([{ t: 'msg', text: '' }]);
    // 2000 emoji: 4000 UTF-16 units, 8000 bytes; never cut inside a surrogate pair.
    const emoji = '🙂'.repeat(MAX_TEXT_CHARS);
    const parts = messagePayloads(emoji);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) if (p.t === 'msg') expect(p.text).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
    expect(join(parts)).toEqual([emoji]);
    const long = `${'x'.repeat(MAX_TEXT_CHARS)}${'y'.repeat(10)}`;
    expect(join(messagePayloads(long))).toEqual(['x'.repeat(MAX_TEXT_CHARS), 'y'.repeat(10)]);
    const lone = '\ud800'.repeat(MAX_TEXT_CHARS);
    expect(join(messagePayloads(lone))).toEqual([lone]);
  });

  test('the receiver refuses a message over MAX_TEXT_CHARS characters', () => {
    const r = new Reassembler();
    expect(r.push({ text: 'x'.repeat(MAX_TEXT_CHARS - 1), more: true })).toBe('more');
    expect(r.push({ text: '🙂' })).toEqual({ text: `${'x'.repeat(MAX_TEXT_CHARS - 1)}🙂` });
    expect(r.push({ text: 'x'.repeat(MAX_TEXT_CHARS), more: true })).toBe('more');
    expect(r.push({ text: 'x' })).toBe('too-long');
  });
});

describe('TokenBook (P2P-2): one token per requester, once, in time', () => {
  const proves = (token: string) => (t: string) => t === token;

  test('the token is for its requester only, and a proof spends it', () => {
    const book = new TokenBook(60_000);
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('leia', 1, () => true)).toBeUndefined();
    expect(book.redeem('hans', 2, proves(TOKEN))).toBe(TOKEN);
    expect(book.redeem('hans', 3, proves(TOKEN))).toBeUndefined();
  });

  test('a failed proof does not spend it, but MAX_TOKEN_FAILURES of them do', () => {
    const book = new TokenBook();
    book.expect('hans', TOKEN, 0);
    for (let i = 1; i < MAX_TOKEN_FAILURES; i++) expect(book.redeem('hans', i, proves(OTHER))).toBeUndefined();
    expect(book.redeem('hans', 10, proves(TOKEN))).toBe(TOKEN);
    book.expect('hans', TOKEN, 0);
    for (let i = 0; i < MAX_TOKEN_FAILURES; i++) book.redeem('hans', i, proves(OTHER));
    expect(book.redeem('hans', 10, proves(TOKEN))).toBeUndefined();
  });

  test('a newer token for the same requester replaces the older one', () => {
    const book = new TokenBook();
    book.expect('hans', TOKEN, 0);
    book.expect('hans', OTHER, 1);
    expect(book.redeem('hans', 2, proves(TOKEN))).toBeUndefined();
    expect(book.redeem('hans', 2, proves(OTHER))).toBe(OTHER);
  });

  test('an expired token is refused', () => {
    const book = new TokenBook(1000);
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('hans', 1000, proves(TOKEN))).toBeUndefined();
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('hans', 999, proves(TOKEN))).toBe(TOKEN);
  });

  test('forget drops the token of a user', () => {
    const book = new TokenBook();
    book.expect('hans', TOKEN, 0);
    book.expect('leia', OTHER, 0);
    book.forget('hans');
    expect(book.redeem('hans', 1, proves(TOKEN))).toBeUndefined();
    expect(book.redeem('leia', 1, proves(OTHER))).toBe(OTHER);
  });
});

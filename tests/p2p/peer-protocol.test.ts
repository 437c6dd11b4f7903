import { describe, expect, test } from 'bun:test';
import { formatPeerLine, parsePeerLine, TokenBook, type PeerLine } from '../../src/p2p/peer-protocol.ts';

const TOKEN = 'a'.repeat(32);

describe('peer protocol lines', () => {
  test('round trip', () => {
    const lines: PeerLine[] = [
      { kind: 'hello', user: 'hans', token: TOKEN },
      { kind: 'welcome', user: 'yoda' },
      { kind: 'msg', text: 'hi there 🙂  spaced' },
      { kind: 'bye' },
    ];
    for (const line of lines) expect(parsePeerLine(formatPeerLine(line).slice(0, -1))).toEqual(line);
  });

  test.each(['', 'hello hans', 'hello hans short', `hello hans ${'z'.repeat(32)}`, 'welcome', 'msg', 'byebye', 'GET / HTTP/1.1'])('refuses %p', (line) => {
    expect(parsePeerLine(line)).toBeUndefined();
  });
});

describe('TokenBook (P2P-2): right token, right requester, once, in time', () => {
  test('a token works once, for its user only', () => {
    const book = new TokenBook(60_000);
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('leia', TOKEN, 1)).toBe(false);
    // A wrong guess spends the token: it cannot be tried again by anyone.
    expect(book.redeem('hans', TOKEN, 2)).toBe(false);
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('hans', TOKEN, 3)).toBe(true);
    expect(book.redeem('hans', TOKEN, 4)).toBe(false);
  });

  test('an expired token is refused; an unknown one too', () => {
    const book = new TokenBook(1000);
    book.expect('hans', TOKEN, 0);
    expect(book.redeem('hans', 'b'.repeat(32), 1)).toBe(false);
    expect(book.redeem('hans', TOKEN, 1000)).toBe(false);
  });

  test('forget drops the tokens of a user', () => {
    const book = new TokenBook();
    book.expect('hans', TOKEN, 0);
    book.forget('hans');
    expect(book.redeem('hans', TOKEN, 1)).toBe(false);
  });
});

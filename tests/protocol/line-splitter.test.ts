import { describe, expect, test } from 'bun:test';
import { INVALID_UTF8, LineSplitter, LineTooLongError } from '../../src/protocol/line-splitter.ts';
import { MAX_LINE_BYTES } from '../../src/protocol/limits.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('LineSplitter (PROTO-1 framing)', () => {
  test('splits LF-terminated lines and keeps a partial line for the next chunk', () => {
    const s = new LineSplitter();
    expect(s.push(bytes('whoelse\nmessage yo'))).toEqual(['whoelse']);
    expect(s.pendingBytes).toBe(10);
    expect(s.push(bytes('da hi\n'))).toEqual(['message yoda hi']);
    expect(s.pendingBytes).toBe(0);
  });

  test('drops one trailing CR (CRLF from telnet-like tools) but keeps other text', () => {
    const s = new LineSplitter();
    expect(s.push(bytes('whoelse\r\nbroadcast a\rb\n'))).toEqual(['whoelse', 'broadcast a\rb']);
  });

  test('keeps empty lines so the caller can ignore them', () => {
    expect(new LineSplitter().push(bytes('\n\nlogout\n'))).toEqual(['', '', 'logout']);
  });

  test('a character split across chunks, at every byte, is decoded whole', () => {
    const text = 'message yoda héllo 🙂 ünï\n';
    const all = bytes(text);
    for (let cut = 1; cut < all.length; cut++) {
      const s = new LineSplitter();
      const got = [...s.push(all.subarray(0, cut)), ...s.push(all.subarray(cut))];
      expect(got).toEqual([text.slice(0, -1)]);
    }
  });

  test('one byte at a time gives the same lines', () => {
    const s = new LineSplitter();
    const got: unknown[] = [];
    for (const b of bytes('a 🙂\nb\n')) got.push(...s.push(Uint8Array.of(b)));
    expect(got).toEqual(['a 🙂', 'b']);
  });

  test('an invalid UTF-8 line is reported and the lines around it survive (PROTO-3)', () => {
    const s = new LineSplitter();
    const chunk = Uint8Array.of(...bytes('whoelse\n'), 0xff, 0xfe, 0x0a, ...bytes('logout\n'));
    expect(s.push(chunk)).toEqual(['whoelse', INVALID_UTF8, 'logout']);
  });

  test('a line longer than the limit is refused before it is buffered (PROTO-3)', () => {
    const s = new LineSplitter();
    const big = new Uint8Array(1024 * 1024).fill(0x61);
    expect(() => s.push(big)).toThrow(LineTooLongError);
    expect(s.pendingBytes).toBe(0);
  });

  test('the limit counts a line that arrives over many chunks', () => {
    const s = new LineSplitter(10);
    expect(s.push(bytes('12345'))).toEqual([]);
    expect(() => s.push(bytes('678901'))).toThrow(LineTooLongError);
  });

  test('a complete line over the limit inside a chunk is refused too', () => {
    const s = new LineSplitter(10);
    expect(() => s.push(bytes('ok\n12345678901\nok\n'))).toThrow(LineTooLongError);
  });

  test('a line of exactly the limit is accepted', () => {
    const s = new LineSplitter();
    const line = 'a'.repeat(MAX_LINE_BYTES);
    expect(s.push(bytes(`${line}\n`))).toEqual([line]);
  });
});

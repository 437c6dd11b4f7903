import { describe, expect, test } from 'bun:test';
import { encodeLine, encodeMessage, errorLine, okLine, parseServerLine } from '../../src/protocol/server-lines.ts';

describe('server lines (PROTO-1)', () => {
  test('encodeMessage is the JSON of the message object, one line', () => {
    const body = 'quote " backslash \\ newline-free 🙂 \u2028';
    const line = encodeMessage('message', 7, 'hans', 1700000000000, body, true);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(parseServerLine(line.slice(0, -1))).toEqual({ type: 'message', id: 7, key: 7, from: 'hans', at: 1700000000000, body, offline: true });
    expect(JSON.parse(encodeMessage('broadcast', 1, 'a', 2, 'b'))).toEqual({ type: 'broadcast', id: 1, key: 1, from: 'a', at: 2, body: 'b' });
    // CLU-3: a message written again keeps its key under a new id.
    expect(JSON.parse(encodeMessage('message', 90, 'a', 2, 'b', true, 7))).toEqual({ type: 'message', id: 90, key: 7, from: 'a', at: 2, body: 'b', offline: true });
  });

  test('replies carry re only when the request had a tag (PROTO-2)', () => {
    expect(JSON.parse(okLine('9', 'users', { users: ['a'] }))).toEqual({ type: 'ok', re: '9', code: 'users', users: ['a'] });
    expect(JSON.parse(okLine(undefined, 'bye'))).toEqual({ type: 'ok', code: 'bye' });
    expect(JSON.parse(errorLine('x', 'usage', 'Usage: block <user>'))).toEqual({ type: 'error', re: 'x', code: 'usage', text: 'Usage: block <user>' });
  });

  test('parseServerLine refuses what is not an object with a type', () => {
    for (const bad of ['nope', '[]', '{}', '{"type":1}', 'null']) expect(() => parseServerLine(bad)).toThrow();
    expect(parseServerLine(encodeLine({ type: 'presence', users: ['a', 'b'], online: true }).trim())).toEqual({ type: 'presence', users: ['a', 'b'], online: true });
  });
});

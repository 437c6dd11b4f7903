import { describe, expect, test } from 'bun:test';
import { clock, describe as describeEvent, listNames, sanitize, toJson } from '../../src/client/events.ts';

describe('client events', () => {
  test('--json never prints a private-chat token (CLI-5)', () => {
    const line = toJson({ type: 'private-accepted', user: 'yoda', host: '10.0.0.7', port: 4000, token: 'a'.repeat(32) });
    expect(line).not.toContain('aaaa');
    expect(JSON.parse(line)).toMatchObject({ type: 'private-accepted', user: 'yoda', host: '10.0.0.7', port: 4000 });
    expect(toJson({ type: 'ok', code: 'accepted', user: 'hans', token: 'b'.repeat(32), text: 'x' })).not.toContain('bbbb');
  });

  test('every event has a human-readable text', () => {
    expect(describeEvent({ type: 'message', id: 1, from: 'hans', at: 0, body: 'hi' }).text).toBe('hans: hi');
    expect(describeEvent({ type: 'presence', users: ['a'], online: true }).text).toBe('a logged in');
    expect(describeEvent({ type: 'presence', users: ['a', 'b', 'c'], online: false }).text).toBe('a, b and c logged out');
    expect(describeEvent({ type: 'private-closed', user: 'yoda', reason: 'timeout' }).text).toBe('Private chat with yoda closed: yoda timed out');
  });

  test('long lists of names are cut short', () => {
    expect(listNames(['a', 'b'])).toBe('a and b');
    expect(listNames(Array.from({ length: 12 }, (_, i) => `u${i}`))).toBe('12 users: u0, u1, u2, u3, u4, u5, u6, u7 and 4 more');
  });

  test('control characters from the wire cannot reach the terminal', () => {
    expect(sanitize('a\u001b[2Jb\u0007c\u009bd')).toBe('a?[2Jb?c?d');
    expect(sanitize('line one\nline two\ttabbed')).toBe('line one\nline two\ttabbed');
  });

  test('times are HH:MM today, with the date otherwise', () => {
    const now = new Date(2026, 10, 21, 15, 30).getTime();
    expect(clock(new Date(2026, 10, 21, 9, 5).getTime(), now)).toBe('09:05');
    expect(clock(new Date(2026, 10, 20, 23, 59).getTime(), now)).toBe('Nov 20 23:59');
  });
});

import { describe, expect, test } from 'bun:test';
import { clock, describe as describeEvent, listNames, oneLine, sanitize, toJson } from '../../src/client/events.ts';
import { problemWith } from '../../src/client/check-line.ts';
import { NameColours } from '../../src/client/terminal.ts';
import type { ServerLine } from '../../src/protocol/server-lines.ts';

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

  test('BCAST-1 an own broadcast: who it reached, and in a cluster cut off from the others, how many get it later', () => {
    const own = { type: 'own', from: 'hans', body: 'hi all', at: 0 } as const;
    expect(describeEvent({ ...own, fate: 'sent', reached: 2 }).text).toContain('✓ reached 2 users');
    expect(describeEvent({ ...own, fate: 'partial', reached: 1 }).text).toContain('✓ reached 1 user; some did not get it');
    expect(describeEvent({ ...own, fate: 'partial', reached: 1, pending: 3 }).text).toContain('✓ reached 1 user; 3 on other servers get it once the server reaches them');
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

  test('CLI-10 what a server or peer sends is one line: breaks shown as ⏎, controls and bidi controls as ?', () => {
    expect(oneLine('hi\nleia: forged\r\nmore\u2028x\u0085y')).toBe('hi⏎leia: forged⏎more⏎x⏎y');
    expect(oneLine('a\u202eb\u2067c\u200fd\u001b[2J\te')).toBe('a?b?c?d?[2J e');
    expect(describeEvent({ type: 'private-message', from: 'leia', body: 'one\nPrivate chat with hans closed: fake', at: 0 }).text).toBe('leia (private): one⏎Private chat with hans closed: fake');
    expect(describeEvent({ type: 'message', id: 1, from: 'le\nia', at: 0, body: '\u202eabc' }).text).toBe('le⏎ia: ?abc');
    expect(describeEvent({ type: 'private-closed', user: 'yo\nda', reason: 'x\ny' }).text).toBe('Private chat with yo⏎da closed: x⏎y');
  });

  test('CLI-10 malformed lines of known types are told apart; unknown types are not malformed', () => {
    const bad: unknown[] = [
      { type: 'presence', users: 'x', online: true },
      { type: 'presence', users: [], online: true },
      { type: 'error', code: 'busy' },
      { type: 'message', id: 1, from: 5, at: 0, body: 'x' },
      { type: 'message', id: 1, at: 0, body: 'x' },
      { type: 'broadcast', id: '1', from: 'a', at: 0, body: 'x' },
      { type: 'message', id: 1, key: '1', from: 'a', at: 0, body: 'x' },
      { type: 'private-accepted', user: 'yoda', host: 'h' },
      { type: 'bye', code: 'timeout' },
    ];
    for (const line of bad) expect(problemWith(line as ServerLine)).toBeString();
    expect(problemWith({ type: 'message', id: 1, from: 'a', at: 0, body: '' })).toBeUndefined();
    expect(problemWith({ type: 'message', id: 9, key: 1, from: 'a', at: 0, body: '' })).toBeUndefined();
    expect(problemWith({ type: 'newer-thing' } as unknown as ServerLine)).toBeUndefined();
  });

  test('nick colours: stable per name, distinct for different names, never red or magenta', () => {
    const colours = new NameColours();
    const names = ['yoda', 'leia', 'luke', 'vader', 'han', 'chewie', 'lando', 'rey'];
    const given = names.map((n) => colours.of(n));
    expect(new Set(given).size).toBe(names.length);
    expect(names.map((n) => colours.of(n))).toEqual(given);
    for (const c of given) expect(c).not.toMatch(/red|magenta/i);
  });
});

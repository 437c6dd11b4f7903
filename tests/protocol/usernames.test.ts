import { describe, expect, test } from 'bun:test';
import { nameKeys, usernameProblem } from '../../src/protocol/usernames.ts';

describe('usernameProblem (SEC-3)', () => {
  test('accepts letters of one script, digits and inner _ . -', () => {
    for (const name of ['hans', 'Hans', 'anna-lena', 'x.y', 'r2d2', 'jürgen', 'Дмитрий', 'Ελένη', '李小龍', '山田taro', '김민준', 'ab']) expect({ name, problem: usernameProblem(name) }).toEqual({ name, problem: undefined });
  });

  test('refuses invisible, bidi, format, compatibility, mixed-script, path-like and too-short names', () => {
    for (const name of ['h\u0430ns', 'hans\u200b', '\u200b', '\u3164', '\uff28\uff21\uff2e\uff33', '\u202ehans', '../../etc/passwd', 'a/b', 'x..y', '_x', 'x_', 'ju\u0308rgen', '\u0430\u0441\u0435', 'a', 'a b', "o'brien", '\u0301ab', 'x'.repeat(33)]) {
      expect({ name, refused: typeof usernameProblem(name) }).toEqual({ name, refused: 'string' });
    }
  });
});

describe('nameKeys', () => {
  test('case and look-alike letters give the same key; different names do not', () => {
    const shares = (a: string, b: string) => nameKeys(a).some((k) => nameKeys(b).includes(k));
    expect(shares('hans', 'HANS')).toBe(true);
    expect(shares('yoda', 'y0da')).toBe(true);
    expect(shares('luke', 'Iuke')).toBe(true);
    expect(shares('hans', 'h\u0430ns')).toBe(true);
    expect(shares('modern', 'rnodern')).toBe(true);
    expect(shares('hans', 'hank')).toBe(false);
    expect(shares('leia', 'lela')).toBe(false);
  });
});

// The account table (src/server/accounts.ts) against what it replaced, a Map<string, string> filled
// by splitting the file and matching each line (AUTH-1): random files, and random changes after start.
//
// The seed is fixed so that a failure reproduces; FC_SEED=<n> tries another one.

import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { AccountTable } from '../../src/server/accounts.ts';
import { parseCredentials } from '../../src/server/credentials.ts';
import { MAX_NAME_CHARS, MAX_PASSWORD_CHARS } from '../../src/protocol/limits.ts';

const SEED = Number(process.env.FC_SEED ?? 14_2026);
const RUNS = { seed: SEED, numRuns: 300 } as const;

/** The parser before the table: the model the table and its parser must agree with. */
function modelParse(text: string, name = 'credentials'): { accounts: Map<string, string>; problems: string[] } {
  const accounts = new Map<string, string>();
  const problems: string[] = [];
  const tooLong = (s: string, max: number) => s.length > max && [...s].length > max;
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const where = `${name}:${index + 1}`;
    const match = /^(\S+) (\S+)$/.exec(line);
    if (!match || /[\u0000-\u001f\u007f-\u009f]/.test(line)) {
      problems.push(`${where}: expected "username password" separated by one space; line skipped`);
      return;
    }
    const [, user, secret] = match as unknown as [string, string, string];
    if (tooLong(user, MAX_NAME_CHARS) || tooLong(secret, MAX_PASSWORD_CHARS * 4)) {
      problems.push(`${where}: username longer than ${MAX_NAME_CHARS} characters or secret too long; line skipped`);
    } else if (accounts.has(user)) {
      problems.push(`${where}: "${user}" appears again; the first entry is kept`);
    } else {
      accounts.set(user, secret);
    }
  });
  return { accounts, problems };
}

/** Pieces of credentials files: names that repeat, separators, CR, whitespace and controls, non-ASCII, long runs. */
const NAMES = ['hans', 'Hans', 'leia', 'yoda', 'a', 'ÿoda', 'é', '🙂', '__proto__', 'x'.repeat(MAX_NAME_CHARS), 'x'.repeat(MAX_NAME_CHARS + 1), '🙂'.repeat(MAX_NAME_CHARS)];
const PIECES = [...NAMES, ' ', ' ', '  ', '\t', '\r', '\n', '\n', '\n', '\r\n', '\u0000', '\u007f', '\u0085', '\u00a0', '\u2028', '\u3000', '\ufeff', '\ud800', 'pw', '$argon2id$v=19$m=19456,t=2,p=1$abc$def', 's'.repeat(MAX_PASSWORD_CHARS * 4 + 1)];
const file: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join('')),
  // Mostly well-formed lines, as real files are.
  fc
    .array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom('pw', 'p w', 'pw\r', '', ' pw', 'pw '), fc.constantFrom('\n', '\r\n', '\n\n')), { maxLength: 30 })
    .map((lines) => lines.map(([n, s, eol]) => `${n} ${s}${eol}`).join('')),
  fc.string({ unit: 'binary', maxLength: 120 }),
);

describe('account table (AUTH-1: the credentials file as an index, not a Map)', () => {
  test('parses every file into the accounts, order and problems the Map-based parser gave', () => {
    fc.assert(
      fc.property(file, (text) => {
        const { accounts, problems } = parseCredentials(text, 'c.txt');
        const model = modelParse(text, 'c.txt');
        expect(problems).toEqual(model.problems);
        expect([...accounts]).toEqual([...model.accounts]);
        expect([...accounts.keys()]).toEqual([...model.accounts.keys()]);
        expect(accounts.size).toBe(model.accounts.size);
        for (const name of [...NAMES, 'hans pw', 'hans\n', '', 'han', 'hansx']) {
          expect(accounts.has(name)).toBe(model.accounts.has(name));
          expect(accounts.get(name)).toBe(model.accounts.get(name));
        }
      }),
      RUNS,
    );
  });

  test('after start, set / delete / has / get / size / order behave as a Map', () => {
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'has', 'get'), fc.constantFrom(...NAMES, 'new1', 'new2', 'a b'), fc.constantFrom('s1', 's2'));
    // Files that hold accounts, so that changes meet names from the file.
    const accountsFile = fc.oneof(file, fc.subarray(NAMES).map((names) => names.map((n, i) => `${n} pw${i}\n`).join('')));
    fc.assert(
      fc.property(accountsFile, fc.array(op, { maxLength: 30 }), (text, ops) => {
        const { accounts } = parseCredentials(text);
        const model = modelParse(text).accounts;
                for (const [verb, name, secret] of ops) {
          if (verb === 'set') {
            accounts.set(name, secret);
            model.set(name, secret);
          } else {
            expect(accounts[verb](name)).toEqual(model[verb](name));
          }
          expect(accounts.size).toBe(model.size);
        }
        expect([...accounts]).toEqual([...model]);
        expect([...accounts.keys()]).toEqual([...model.keys()]);
      }),
      RUNS,
    );
  });

  test('many accounts: every one found, none invented (the table grows from a wrong guess and probes past collisions)', () => {
    const text = `${Array.from({ length: 5000 }, (_, i) => `u${i} secret${i}`).join('\r\n')}\r\n`;
    const parsed = parseCredentials(text);
    expect(parsed.problems).toEqual([]);
    // The same lines into a table told to expect one account: it grows.
    const grown = new AccountTable(text, 1);
    for (let at = 0; at < text.length; at = text.indexOf('\n', at) + 1) expect(grown.addLine(at, text.indexOf(' ', at))).toBe(true);
    expect(grown.addLine(0, 2)).toBe(false);
    for (const accounts of [parsed.accounts, grown]) {
      expect(accounts.size).toBe(5000);
      for (let i = 0; i < 5000; i++) expect(accounts.get(`u${i}`)).toBe(`secret${i}`);
      for (let i = 5000; i < 6000; i++) expect(accounts.has(`u${i}`)).toBe(false);
    }
    expect(new AccountTable().has('u1')).toBe(false);
  });
});

// Property tests of the hot-path encoders (issue 14): jsonString, encodeMessage, deliveredLine and
// okLine write JSON by hand and escape only when a string needs it; their output must be exactly
// what JSON.stringify gives, for any string (quotes, backslashes, controls, lone surrogates, emoji).
//
// The seed is fixed so that a failure reproduces; FC_SEED=<n> tries another one.

import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { deliveredLine, encodeLine, encodeMessage, jsonString, okLine } from '../../src/protocol/server-lines.ts';

const SEED = Number(process.env.FC_SEED ?? 14_2026);
const RUNS = { seed: SEED, numRuns: 3000 } as const;

/** Code units that JSON treats specially, and their neighbours. */
const TRICKY = ['"', '\\', '\u0000', '\u0001', '\b', '\t', '\n', '\f', '\r', '\u001f', ' ', '\u007f', '\u0085', '\u2028', '\u2029', '\ud800', '\udbff', '\udc00', '\udfff', '🙂', '👍🏽', 'é', 'x', '/', '<', '\ufeff', '\uffff'];

const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 30 }),
  fc.string({ unit: fc.oneof(fc.constantFrom(...TRICKY), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))), maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 40 }),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/);
const id = fc.oneof(fc.nat(), fc.maxSafeInteger());

test('fast-check seed', () => {
  console.log(`server-lines.property: FC_SEED=${SEED}`);
  expect(Number.isInteger(SEED)).toBe(true);
});

describe('jsonString', () => {
  test('is JSON.stringify of any string, and parses back to it', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const json = jsonString(s);
        expect(json).toBe(JSON.stringify(s));
        expect(JSON.parse(json)).toBe(s);
      }),
      RUNS,
    );
  });

  test('escapes what must be escaped, keeps a surrogate pair, escapes a lone surrogate', () => {
    expect(jsonString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(jsonString('\u0000\n\t\u001f')).toBe('"\\u0000\\n\\t\\u001f"');
    expect(jsonString('🙂')).toBe('"🙂"');
    expect(jsonString('\ud83d')).toBe('"\\ud83d"');
    expect(jsonString('\ude42x')).toBe('"\\ude42x"');
    expect(jsonString('\ude42\ud83d')).toBe('"\\ude42\\ud83d"');
    expect(jsonString('\u007f\u2028')).toBe('"\u007f\u2028"');
    expect(jsonString('')).toBe('""');
  });
});

describe('hot-path lines equal the JSON of their object', () => {
  test('encodeMessage: message and broadcast, online and offline', () => {
    fc.assert(
      fc.property(fc.constantFrom('message' as const, 'broadcast' as const), id, anyString, id, anyString, fc.boolean(), (type, i, from, at, body, offline) => {
        const line = encodeMessage(type, i, from, at, body, offline);
        expect(line).toBe(encodeLine({ type, id: i, from, at, body, ...(offline && { offline: true as const }) }));
        expect(JSON.parse(line)).toEqual({ type, id: i, from, at, body, ...(offline && { offline: true }) });
      }),
      RUNS,
    );
  });

  test('deliveredLine, with and without a tag', () => {
    fc.assert(
      fc.property(fc.option(tag, { nil: undefined }), id, anyString, (re, i, to) => {
        expect(deliveredLine(re, i, to)).toBe(encodeLine(re === undefined ? { type: 'ok', code: 'delivered', id: i, to } : { type: 'ok', re, code: 'delivered', id: i, to }));
      }),
      RUNS,
    );
  });

  test('okLine: any fields, keys and values, in the order the object spread gives', () => {
    const key = fc.oneof(fc.constantFrom('id', 'to', 'text', 'users', 'type', 're', 'code', '0', '12', '012', '4294967295', '__proto__', 'constructor'), anyString);
    const value = fc.oneof(
      anyString,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(undefined),
      fc.constant(null),
      fc.array(anyString, { maxLength: 4 }),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constant(() => 1),
      fc.date({ noInvalidDate: true }),
    );
    fc.assert(
      fc.property(fc.option(anyString, { nil: undefined }), anyString, fc.array(fc.tuple(key, value), { maxLength: 6 }), (re, code, entries) => {
        const fields: Record<string, unknown> = {};
        for (const [k, v] of entries) Object.defineProperty(fields, k, { value: v, enumerable: true, writable: true, configurable: true });
        const expected = `${JSON.stringify(re === undefined ? { type: 'ok', code, ...fields } : { type: 'ok', re, code, ...fields })}\n`;
        expect(okLine(re, code, fields)).toBe(expected);
      }),
      RUNS,
    );
  });

  test('okLine: the replies the server sends', () => {
    expect(okLine('7', 'stored', { id: 3, to: 'leia', text: 'leia is offline' })).toBe('{"type":"ok","re":"7","code":"stored","id":3,"to":"leia","text":"leia is offline"}\n');
    expect(okLine(undefined, 'sent', { id: 4, reached: 0 })).toBe('{"type":"ok","code":"sent","id":4,"reached":0}\n');
    expect(okLine(undefined, 'x', { n: Number.NaN, m: -0, big: 1e21 })).toBe('{"type":"ok","code":"x","n":null,"m":0,"big":1e+21}\n');
  });
});

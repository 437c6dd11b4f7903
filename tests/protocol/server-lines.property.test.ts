// Property tests of the hot-path encoders (issue 14): encodeMessage and deliveredLine write JSON by
// hand and call JSON.stringify only when a string needs an escape (needsEscape); their output must
// be exactly what JSON.stringify gives, for any string (quotes, backslashes, controls, lone
// surrogates, emoji).
//
// The seed is fixed so that a failure reproduces; FC_SEED=<n> tries another one.

import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { deliveredLine, encodeLine, encodeMessage, needsEscape } from '../../src/protocol/server-lines.ts';

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

describe('needsEscape', () => {
  test('false exactly when JSON.stringify only adds the quotes', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(needsEscape(s)).toBe(JSON.stringify(s) !== `"${s}"`);
        expect(JSON.parse(needsEscape(s) ? JSON.stringify(s) : `"${s}"`)).toBe(s);
      }),
      RUNS,
    );
  });

  test('quotes, backslashes, C0 controls and lone surrogates need one; pairs, DEL, C1 and U+2028 do not', () => {
    for (const s of ['a"b', 'a\\b', '\u0000', '\n', '\t', '\u001f', '\ud83d', '\ude42x', '\ude42\ud83d', 'x\ud83d']) expect(needsEscape(s)).toBe(true);
    for (const s of ['', 'hans', '🙂', '👍🏽', '\u007f', '\u0085', '\u2028', 'é ü', '\ufeff']) expect(needsEscape(s)).toBe(false);
  });
});

describe('hot-path lines equal the JSON of their object', () => {
  test('encodeMessage: message and broadcast, online and offline', () => {
    fc.assert(
      fc.property(fc.constantFrom('message' as const, 'broadcast' as const), id, id, anyString, id, anyString, fc.boolean(), (type, i, key, from, at, body, offline) => {
        const line = encodeMessage(type, i, from, at, body, offline, key);
        expect(line).toBe(encodeLine({ type, id: i, key, from, at, body, ...(offline && { offline: true as const }) }));
        expect(JSON.parse(line)).toEqual({ type, id: i, key, from, at, body, ...(offline && { offline: true }) });
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
});

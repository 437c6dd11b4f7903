// Property-based tests of the wire parser (issue 7): random strings and random bytes, cut into
// chunks at random points, through LineSplitter and parseRequest. Nothing but ProtocolError or
// LineTooLongError may come out (PROTO-3); formatting and splitting round-trip (PROTO-1).
//
// The seed is fixed so that a failure reproduces; FC_SEED=<n> tries another one.

import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { COMMANDS, isVerb, type ArgKind, type Verb } from '../../src/protocol/commands.ts';
import { ErrorCode, ProtocolError } from '../../src/protocol/errors.ts';
import { INVALID_UTF8, LineSplitter, LineTooLongError, type Line } from '../../src/protocol/line-splitter.ts';
import { MAX_LINE_BYTES, MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_TAG_CHARS, MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { formatRequest, isBlank, parseAny, parseHot, parseRequest, tagOf, type Request } from '../../src/protocol/request.ts';

const SEED = Number(process.env.FC_SEED ?? 7_2024);
const RUNS = { seed: SEED, numRuns: 400 } as const;
const ERROR_CODES = new Set<string>(Object.values(ErrorCode));
const VERBS = Object.keys(COMMANDS) as Verb[];

// ---- generators ---------------------------------------------------------------------------

/** Characters the parser treats specially: separators, controls, other Unicode whitespace, '#'. */
const TRICKY = ['', ' ', '  ', '\t', '#', '\r', '\n', '\u0000', '\u0007', '\u000b', '\u000c', '\u001b', '\u007f', '\u0085', '\u009b', '\u00a0', '\u2028', '\u3000', '\ufeff', '\ud800', '\udfff', '🙂', 'é', '0', '65535', '99999999999'];

/** Lines that look like requests: verbs, tags, names and numbers glued with tricky characters. */
const requestish: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(...VERBS, ...VERBS.map((v) => v.toUpperCase())),
      fc.constantFrom(...TRICKY),
      fc.constantFrom('yoda', 'hans', '#1', '#t.a-g_9', '#', '#!!', `#${'x'.repeat(MAX_TAG_CHARS + 1)}`, '__proto__', 'constructor', '-1', '1e3'),
      fc.string({ unit: 'binary', maxLength: 12 }),
    ),
    { maxLength: 12 },
  )
  .chain((words) => fc.array(fc.constantFrom(' ', ' ', '\t', ''), { minLength: words.length, maxLength: words.length }).map((seps) => words.map((w, i) => w + seps[i]).join('')));

/** Any JS string, lone surrogates included (a wire line cannot hold one, but the parser must cope). */
const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.oneof(fc.constantFrom(...TRICKY), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))), maxLength: 80 }),
  requestish,
);

const NOT_WORD = /[\s\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
/** One code point that may appear in a word: not whitespace (as \s), not a control character. */
const wordChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !NOT_WORD.test(c));
const word = (max: number) => fc.array(wordChar, { minLength: 1, maxLength: max }).map((cs) => cs.join(''));
const digits = (max: number) => fc.stringMatching(new RegExp(`^\\d{1,${max}}$`));
const tag = fc.stringMatching(new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_TAG_CHARS}}$`));
/** Message text: not blank, no controls, does not start with a space or tab (those separate it from the name). */
const text = fc
  .array(fc.oneof(wordChar, fc.constantFrom(' ', '\t', '  ')), { minLength: 1, maxLength: 60 })
  .map((cs) => cs.join(''))
  .filter((t) => t.trim() !== '' && !/^[ \t]/.test(t));

const ARG: Record<ArgKind, fc.Arbitrary<string>> = {
  user: word(MAX_NAME_CHARS),
  password: word(MAX_PASSWORD_CHARS),
  text,
  seconds: digits(9),
  port: fc.integer({ min: 1, max: 65535 }).map(String),
  id: digits(15),
};

/** A valid request: a verb with well-formed arguments, with or without a tag. */
const validRequest: fc.Arbitrary<Request> = fc
  .constantFrom(...VERBS)
  .chain((verb) => fc.record({ tag: fc.option(tag, { nil: undefined }), verb: fc.constant(verb), args: fc.tuple(...COMMANDS[verb].args.map((k) => ARG[k])) }));

/** Bytes that hit the interesting cases: LF, CR, multi-byte UTF-8 (whole and cut), invalid bytes. */
const streamBytes: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 12 }) },
      { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => new TextEncoder().encode(s)) },
      { weight: 2, arbitrary: fc.constantFrom(Uint8Array.of(0x0a), Uint8Array.of(0x0d, 0x0a), Uint8Array.of(0x0d), Uint8Array.of(0xef, 0xbb, 0xbf)) },
      { weight: 1, arbitrary: fc.constantFrom(Uint8Array.of(0xc3), Uint8Array.of(0xf0, 0x9f), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xc0, 0x80), Uint8Array.of(0xff)) },
    ),
    { maxLength: 40 },
  )
  .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

/** Cut points for `length` bytes, sorted, possibly repeated (an empty chunk) and possibly none. */
const cutsFor = (length: number) => fc.array(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((cs) => cs.sort((a, b) => a - b));

function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(from, cut));
    from = cut;
  }
  return out;
}

// ---- a model of the framing, written independently of LineSplitter ---------------------------

interface Framed {
  /** Complete lines up to (not including) the first one over the limit. */
  lines: Line[];
  tooLong: boolean;
  pending: number;
}

/** PROTO-1/PROTO-3 as docs/PROTOCOL.md states them: LF ends a line, one CR before it is dropped, over the limit is refused. */
function frame(bytes: Uint8Array, limit: number): Framed {
  const lines: Line[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    const piece = bytes.subarray(start, i);
    if (piece.length > limit) return { lines, tooLong: true, pending: 0 };
    const decoded = Buffer.from(piece).toString('utf8');
    // Valid UTF-8 exactly when decoding and encoding again gives the same bytes.
    if (!Buffer.from(decoded, 'utf8').equals(piece)) lines.push(INVALID_UTF8);
    else lines.push(decoded.endsWith('\r') ? decoded.slice(0, -1) : decoded);
    start = i + 1;
  }
  const pending = bytes.length - start;
  return { lines, tooLong: pending > limit, pending };
}

/** Pushes chunks; returns the lines, whether it refused the stream, and checks the buffer bound after each push. */
function split(chunks: readonly Uint8Array[], limit: number): { lines: Line[]; refused: boolean; pending: number } {
  const splitter = new LineSplitter(limit);
  const lines: Line[] = [];
  for (const c of chunks) {
    try {
      lines.push(...splitter.push(c));
    } catch (err) {
      if (!(err instanceof LineTooLongError)) throw err;
      return { lines, refused: true, pending: splitter.pendingBytes };
    }
    // Never more than the limit held for an unfinished line (PROTO-3: "without buffering it").
    if (splitter.pendingBytes > limit) throw new Error(`holds ${splitter.pendingBytes} bytes with a limit of ${limit}`);
  }
  return { lines, refused: false, pending: splitter.pendingBytes };
}

/** Runs parseRequest; anything thrown but a ProtocolError with a documented code fails the property. */
function parseOrError(line: string): Request | ProtocolError {
  try {
    return parseRequest(line);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`parseRequest(${JSON.stringify(line)}) threw ${String(err)}`);
    if (!ERROR_CODES.has(err.code)) throw new Error(`unknown code ${err.code}`);
    if (typeof err.message !== 'string' || err.message === '') throw new Error('an error without a text');
    return err;
  }
}

// ---- properties ------------------------------------------------------------------------------

test('fast-check seed', () => {
  // Printed so that a failure anywhere in this file can be rerun with FC_SEED.
  console.log(`request.property: FC_SEED=${SEED}`);
  expect(Number.isInteger(SEED)).toBe(true);
});

describe('parseRequest on random input (PROTO-3)', () => {
  test('any string: a well-formed request or a ProtocolError with a documented code, nothing else', () => {
    fc.assert(
      fc.property(anyString, (line) => {
        const result = parseOrError(line);
        if (result instanceof ProtocolError) return;
        expect(isVerb(result.verb)).toBe(true);
        expect(result.args).toHaveLength(COMMANDS[result.verb].args.length);
        for (const arg of result.args) {
          expect(arg.trim()).not.toBe('');
          expect(CONTROL.test(arg)).toBe(false);
        }
      }),
      { ...RUNS, numRuns: 3000 },
    );
  });

  test('whatever parses formats back to a line that parses the same (PROTO-1)', () => {
    fc.assert(
      fc.property(anyString, (line) => {
        const result = parseOrError(line);
        if (result instanceof ProtocolError) return;
        const again = formatRequest(result.verb, result.args, result.tag);
        expect(parseRequest(again.slice(0, -1))).toEqual(result);
      }),
      { ...RUNS, numRuns: 3000 },
    );
  });

  test('PROTO-3: a line holding a control character (not tab) is refused, wherever it is', () => {
    const control = fc.constantFrom('\u0000', '\u0001', '\u0008', '\n', '\u000b', '\u000c', '\r', '\u001b', '\u001f', '\u007f', '\u0085', '\u009b', '\u009f');
    fc.assert(
      fc.property(anyString, control, fc.nat(), (line, c, at) => {
        const cut = at % (line.length + 1);
        const bad = `${line.slice(0, cut)}${c}${line.slice(cut)}`;
        const result = parseOrError(bad);
        expect(result).toBeInstanceOf(ProtocolError);
        // Inside a tag the tag is refused first; anywhere else the characters are.
        expect<string[]>([ErrorCode.BadCharacters, ErrorCode.BadTag]).toContain((result as ProtocolError).code);
        // A line the dispatcher would ignore as blank must not hold one either.
        expect(isBlank(bad)).toBe(false);
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });

  test('PROTO-2: after a valid tag, every error carries the tag; a reply can always be matched', () => {
    fc.assert(
      fc.property(tag, anyString, (t, rest) => {
        const result = parseOrError(`#${t} ${rest}`);
        if (result instanceof ProtocolError) expect(tagOf(result)).toBe(t);
        else expect(result.tag).toBe(t);
      }),
      RUNS,
    );
  });

  test('formatRequest -> parseRequest gives back every valid request (PROTO-1)', () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const line = formatRequest(request.verb, request.args, request.tag);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        expect(parseRequest(line.slice(0, -1))).toEqual(request);
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });

  test('over-long names, passwords and texts are refused with usage / text-too-long, never cut', () => {
    const long = (n: number) => fc.array(wordChar, { minLength: n + 1, maxLength: n + 20 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(long(MAX_NAME_CHARS), long(MAX_PASSWORD_CHARS), long(MAX_TEXT_CHARS), (name, password, body) => {
        expect((parseOrError(`block ${name}`) as ProtocolError).code).toBe(ErrorCode.Usage);
        expect((parseOrError(`password ${password}`) as ProtocolError).code).toBe(ErrorCode.Usage);
        expect((parseOrError(`broadcast ${body}`) as ProtocolError).code).toBe(ErrorCode.TextTooLong);
      }),
      { ...RUNS, numRuns: 100 },
    );
  });
});

describe('LineSplitter on random bytes cut at random points (PROTO-1, PROTO-3)', () => {
  const limits = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(MAX_LINE_BYTES));

  test('same lines as the framing rules say, however the stream is cut; only LineTooLongError is thrown', () => {
    fc.assert(
      fc.property(
        streamBytes.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
        limits,
        ([bytes, cuts], limit) => {
          const expected = frame(bytes, limit);
          const got = split(chunk(bytes, cuts), limit);
          if (expected.tooLong) {
            expect(got.refused).toBe(true);
            // Lines before the over-long one may come out first; nothing after it ever does.
            expect(expected.lines.slice(0, got.lines.length)).toEqual(got.lines);
          } else {
            expect(got.refused).toBe(false);
            expect(got.lines).toEqual(expected.lines);
            expect(got.pending).toBe(expected.pending);
          }
        },
      ),
      { ...RUNS, numRuns: 3000 },
    );
  });

  test('splitting a stream at any points yields the same lines as one chunk', () => {
    fc.assert(
      fc.property(streamBytes.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))), ([bytes, cuts]) => {
        const whole = split([bytes], MAX_LINE_BYTES);
        const cut = split(chunk(bytes, cuts), MAX_LINE_BYTES);
        expect(cut).toEqual(whole);
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });

  test('any line longer than the limit is refused, wherever it sits and however it arrives', () => {
    const lineOf = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max }).map((s) => s.replace(/[\n]/g, ' '));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(lineOf(0, 8), { maxLength: 4 }),
        fc.array(lineOf(0, 8), { maxLength: 4 }),
        fc.nat({ max: 100 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (limit, before, after, extra, terminated, rawCuts) => {
          const good = (s: string) => Buffer.byteLength(s) <= limit;
          const long = 'x'.repeat(limit + 1 + extra);
          const text = [...before.filter(good), long, ...after].join('\n') + (terminated ? '\n' : '');
          const bytes = new TextEncoder().encode(text);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
          const got = split(chunk(bytes, cuts), limit);
          expect(got.refused).toBe(true);
          expect(got.lines.length).toBeLessThanOrEqual(before.filter(good).length);
        },
      ),
      { ...RUNS, numRuns: 1000 },
    );
  });

  test('formatted requests, sent as one stream with LF or CRLF and cut anywhere, come out as sent', () => {
    fc.assert(
      fc.property(fc.array(validRequest, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), (requests, crlf, rawCuts) => {
        const text = requests.map((r) => formatRequest(r.verb, r.args, r.tag).replace(/\n$/, crlf ? '\r\n' : '\n')).join('');
        const bytes = new TextEncoder().encode(text);
        const cuts = rawCuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
        const got = split(chunk(bytes, cuts), MAX_LINE_BYTES);
        expect(got.refused).toBe(false);
        expect(got.lines.map((l) => parseRequest(l as string))).toEqual(requests);
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });

  test('random bytes through splitter and parser: only LineTooLongError or ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), cutsFor(400), (bytes, cuts) => {
        const splitter = new LineSplitter(64);
        for (const c of chunk(bytes, cuts.map((x) => Math.min(x, bytes.length)))) {
          let lines: Line[];
          try {
            lines = splitter.push(c);
          } catch (err) {
            expect(err).toBeInstanceOf(LineTooLongError);
            return;
          }
          for (const line of lines) if (line !== INVALID_UTF8) parseOrError(line);
        }
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });
});

describe('parseHot, the one-pass reading of message and ack (issue 14)', () => {
  /** Lines shaped like the hot requests, with tricky characters where they matter. */
  const piece = fc.oneof(word(8), fc.constantFrom(...TRICKY), fc.string({ unit: 'binary', maxLength: 6 }));
  const hotish: fc.Arbitrary<string> = fc
    .tuple(
      fc.option(fc.oneof(tag, fc.constantFrom('', `${'t'.repeat(MAX_TAG_CHARS + 1)}`, 'a b', 'é')), { nil: undefined }),
      // The plain forms most often, so that the fast path is taken and held to account.
      fc.constantFrom(' ', ' ', ' ', '  ', '\t'),
      fc.constantFrom('message', 'message', 'message', 'ack', 'ack', 'Message', 'messages', 'ack5'),
      fc.constantFrom(' ', ' ', ' ', ' ', '  ', '\t', ''),
      fc.oneof(word(MAX_NAME_CHARS + 2), digits(17), fc.array(fc.oneof(word(4), fc.constantFrom(...TRICKY)), { minLength: 1, maxLength: 4 }).map((ps) => ps.join(''))),
      fc.constantFrom(' ', ' ', ' ', ' ', '  ', '\t', '', ' \t'),
      fc.array(piece, { maxLength: 8 }).map((ps) => ps.join('')),
    )
    .map(([t, s1, verb, s2, arg, s3, rest]) => `${t === undefined ? '' : `#${t}${s1}`}${verb}${s2}${arg}${s3}${rest}`);

  test('whatever it reads, the general parser reads the same; where it declines, parseRequest still answers as before', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: hotish }, { weight: 1, arbitrary: anyString }), (line) => {
        const hot = parseHot(line);
        let general: Request | ProtocolError;
        try {
          general = parseAny(line);
        } catch (err) {
          general = err as ProtocolError;
        }
        if (hot !== undefined) expect(hot).toEqual(general as Request);
        // parseRequest is parseHot, else the general parser: so it is the general parser's answer.
        expect(parseOrError(line)).toEqual(general);
      }),
      { ...RUNS, numRuns: 5000 },
    );
  });

  test('reads the plain forms clients send (so the fast path is taken)', () => {
    fc.assert(
      fc.property(fc.option(tag, { nil: undefined }), ARG.user, text, digits(15), (t, user, body, id) => {
        const head = t === undefined ? '' : `#${t} `;
        if (user.length <= MAX_NAME_CHARS && body.length <= MAX_TEXT_CHARS && !/^\s/.test(body)) {
          expect(parseHot(`${head}message ${user} ${body}`)).toEqual({ tag: t, verb: 'message', args: [user, body] });
        }
        expect(parseHot(`${head}ack ${id}`)).toEqual({ tag: t, verb: 'ack', args: [id] });
      }),
      { ...RUNS, numRuns: 2000 },
    );
  });

  test('edge cases agree with the general parser', () => {
    const edges = ['message yo\tda hi', 'message yo\u0085da hi', 'message yo\u00a0da hi', 'message yo\u2028da hi', 'message yoda hi\u0085', 'message yoda hi\u009b', 'message yoda hi\u007f', 'message yoda hi\tthere', 'message yoda \u0085hi', 'message yoda \ufeffhi', 'message yoda 🙂', 'message 🙂 hi', `#${'t'.repeat(MAX_TAG_CHARS)} ack 1`, `#${'t'.repeat(MAX_TAG_CHARS + 1)} ack 1`, '#t.a-g_9 message yoda x', '#t! ack 1', '# ack 1', 'ack 000000000000001', 'ack 0000000000000001', 'ack ٣', 'ack 1\r', `message ${'y'.repeat(MAX_NAME_CHARS)} hi`, `message yoda ${'x'.repeat(MAX_TEXT_CHARS)}`, `message yoda ${'🙂'.repeat(MAX_TEXT_CHARS / 2 + 1)}`];
    for (const line of edges) {
      let general: Request | ProtocolError;
      try {
        general = parseAny(line);
      } catch (err) {
        general = err as ProtocolError;
      }
      const hot = parseHot(line);
      if (hot !== undefined) expect(hot).toEqual(general as Request);
      expect(parseOrError(line)).toEqual(general);
    }
  });

  test('declines what it does not read', () => {
    for (const line of ['message yoda  two spaces', 'message\tyoda hi', 'message yoda', 'message yoda ', 'ack 1 ', 'ack 1234567890123456', '#t\tack 1', ' ack 1', 'whoelse', `message ${'y'.repeat(MAX_NAME_CHARS + 1)} hi`, `message yoda ${'x'.repeat(MAX_TEXT_CHARS + 1)}`, 'message yoda hi\u0007', 'message yo\u00a0da hi', 'message yoda \u3000hi']) {
      expect(parseHot(line)).toBeUndefined();
    }
  });
});

import { describe, expect, test } from 'bun:test';
import { ErrorCode, ProtocolError } from '../../src/protocol/errors.ts';
import { MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { formatRequest, isBlank, parseRequest, tagOf } from '../../src/protocol/request.ts';

function errorOf(line: string): ProtocolError {
  try {
    parseRequest(line);
  } catch (err) {
    return err as ProtocolError;
  }
  throw new Error(`"${line}" parsed`);
}

describe('parseRequest (PROTO-1)', () => {
  test.each([
    ['whoelse', { verb: 'whoelse', args: [] }],
    ['message yoda hello there', { verb: 'message', args: ['yoda', 'hello there'] }],
    ['message yoda   spaced  out  ', { verb: 'message', args: ['yoda', 'spaced  out  '] }],
    ['broadcast 日本語 🙂', { verb: 'broadcast', args: ['日本語 🙂'] }],
    ['whoelsesince 0', { verb: 'whoelsesince', args: ['0'] }],
    ['#42 block vader', { tag: '42', verb: 'block', args: ['vader'] }],
    ['  #a-b.c_1 logout', { tag: 'a-b.c_1', verb: 'logout', args: [] }],
    ['login hans', { verb: 'login', args: ['hans'] }],
    ['password $blasterpistol$', { verb: 'password', args: ['$blasterpistol$'] }],
    ['ack 1234', { verb: 'ack', args: ['1234'] }],
    ['message\tyoda\ttabbed text', { verb: 'message', args: ['yoda', 'tabbed text'] }],
  ])('%p', (line, expected) => {
    expect(parseRequest(line)).toEqual({ tag: undefined, ...expected } as never);
  });

  test('an unknown command lists the valid ones (SESS-5)', () => {
    const err = errorOf('frobnicate now');
    expect(err.code).toBe(ErrorCode.UnknownCommand);
    expect(err.message).toContain('frobnicate');
    for (const verb of ['message', 'broadcast', 'whoelse', 'whoelsesince', 'block', 'unblock', 'logout', 'startprivate', 'stopprivate']) {
      expect(err.message).toContain(verb);
    }
  });

  test('verbs are case-sensitive and prototype names are not verbs', () => {
    expect(errorOf('WHOELSE').code).toBe(ErrorCode.UnknownCommand);
    expect(errorOf('constructor').code).toBe(ErrorCode.UnknownCommand);
    expect(errorOf('__proto__ x').code).toBe(ErrorCode.UnknownCommand);
  });

  test.each([
    ['message', 'message <user> <text>'],
    ['block', 'block <user>'],
    ['block a b', 'block <user>'],
    ['whoelse now', 'whoelse'],
    ['whoelsesince', 'whoelsesince <seconds>'],
  ])('missing or extra arguments show the usage (SESS-5): %p', (line, usage) => {
    const err = errorOf(line);
    expect(err.code).toBe(ErrorCode.Usage);
    expect(err.message).toContain(usage);
  });

  test.each(['-1', '1.5', 'ten', '1e3'])('whoelsesince takes a non-negative whole number, not %p (PRES-3)', (value) => {
    const err = errorOf(`whoelsesince ${value}`);
    expect(err.code).toBe(ErrorCode.Usage);
    expect(err.message).toContain('whole number');
  });

  test('empty text has its own error (MSG-2)', () => {
    expect(errorOf('message yoda').code).toBe(ErrorCode.EmptyText);
    expect(errorOf('message yoda    ').code).toBe(ErrorCode.EmptyText);
    expect(errorOf('broadcast').code).toBe(ErrorCode.EmptyText);
  });

  test('text over the size limit has its own error, counted in characters (MSG-2)', () => {
    expect(errorOf(`message yoda ${'x'.repeat(MAX_TEXT_CHARS + 1)}`).code).toBe(ErrorCode.TextTooLong);
    expect(parseRequest(`message yoda ${'x'.repeat(MAX_TEXT_CHARS)}`).args[1]).toHaveLength(MAX_TEXT_CHARS);
    // 2000 emoji are 4000 UTF-16 units but 2000 characters.
    expect(parseRequest(`message yoda ${'🙂'.repeat(MAX_TEXT_CHARS)}`).verb).toBe('message');
  });

  test('control characters are refused so nobody can drive another terminal (PROTO-3)', () => {
    for (const c of ['\u0000', '\u001b', '\u0007', '\u007f', '\u009b', '\r']) {
      expect(errorOf(`message yoda a${c}b`).code).toBe(ErrorCode.BadCharacters);
    }
  });

  test('a bad tag is refused; a good tag is kept on errors (PROTO-2)', () => {
    expect(errorOf('#bad!tag whoelse').code).toBe(ErrorCode.BadTag);
    expect(errorOf(`#${'x'.repeat(17)} whoelse`).code).toBe(ErrorCode.BadTag);
    expect(tagOf(errorOf('#7 nope'))).toBe('7');
    expect(tagOf(errorOf('#8 block'))).toBe('8');
  });

  test('blank lines are recognised', () => {
    expect(isBlank('')).toBe(true);
    expect(isBlank(' \t ')).toBe(true);
    expect(isBlank(' x')).toBe(false);
  });

  test('formatRequest round-trips through parseRequest', () => {
    const cases: [Parameters<typeof formatRequest>, ReturnType<typeof parseRequest>][] = [
      [['message', ['yoda', 'hi there 🙂'], '5'], { tag: '5', verb: 'message', args: ['yoda', 'hi there 🙂'] }],
      [['whoelse', []], { tag: undefined, verb: 'whoelse', args: [] }],
      [['ack', [17]], { tag: undefined, verb: 'ack', args: ['17'] }],
    ];
    for (const [args, parsed] of cases) {
      const line = formatRequest(...args);
      expect(line.endsWith('\n')).toBe(true);
      expect(parseRequest(line.slice(0, -1))).toEqual(parsed);
    }
  });
});

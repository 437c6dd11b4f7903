// The random scripts the fuzz tests' hostile connections send (tests/helpers/fuzz-kit.ts runs
// them), and what the server must answer to the bytes of one, from docs/PROTOCOL.md.

import fc from 'fast-check';
import { COMMANDS, type ArgKind, type Verb } from '../../src/protocol/commands.ts';
import { MAX_LINE_BYTES, MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { isBlank, parseRequest, tagOf } from '../../src/protocol/request.ts';

const VERBS = Object.keys(COMMANDS) as Verb[];
const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const NAMES = ['yoda', 'leia', 'hans', 'luke', 'vader', 'nobody', 'newbie', '🙂', 'a'.repeat(33), '__proto__'];
const CONTROLS = ['\u0000', '\u0007', '\u0008', '\u000b', '\u000c', '\r', '\u001b', '\u007f', '\u0085', '\u009b'];

const argWord = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 70_000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('0', '999999999999999', '9999999999999999', '1e3', '0x10', '65536') },
);
const textArg = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(MAX_TEXT_CHARS + 1), '🙂'.repeat(MAX_TEXT_CHARS), '\u001b[2J\u001b[H', 'a\u0000b', '\u009b31m red', '   ', 'é'.repeat(MAX_TEXT_CHARS)) },
);

type Piece =
  | { kind: 'valid'; verb: Verb; args: string[]; tagged: boolean; yieldAfter: boolean }
  | { kind: 'request'; tag: 'none' | 'valid' | string; verb: string; args: string[]; text: string | null; sep: string; eol: string; yieldAfter: boolean }
  | { kind: 'bytes'; bytes: Uint8Array; yieldAfter: boolean }
  | { kind: 'string'; text: string; yieldAfter: boolean }
  | { kind: 'long'; length: number; yieldAfter: boolean }
  | { kind: 'bad-utf8'; prefix: string; bytes: readonly number[]; yieldAfter: boolean }
  | { kind: 'control'; at: 'start' | 'text' | 'tag'; c: string; yieldAfter: boolean };

/** Well-formed arguments for each kind, mostly naming real users, so that commands get past the parser. */
const VALID_ARG: Record<ArgKind, fc.Arbitrary<string>> = {
  user: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('yoda', 'leia', 'hans', 'luke', 'vader') }, { weight: 1, arbitrary: fc.constantFrom('nobody', 'newbie') }),
  password: fc.constantFrom('falcon*solo', 'light==saber', 'sithlord**', 'wrong', 'new-pass'),
  text: fc.oneof({ weight: 8, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((t) => t.trim() !== '' && !/^[ \t]/.test(t)) }, { weight: 1, arbitrary: fc.constant('x'.repeat(MAX_TEXT_CHARS)) }),
  seconds: fc.nat({ max: 1000 }).map(String),
  port: fc.integer({ min: 1, max: 65535 }).map(String),
  id: fc.nat({ max: 100_000 }).map(String),
};
const validVerb = fc.constantFrom(...VERBS.filter((v) => v !== 'logout'), 'message', 'message', 'broadcast', 'startprivate', 'accept', 'p2pport', 'block', 'unblock');

const piece: fc.Arbitrary<Piece> = fc.oneof(
  {
    weight: 10,
    arbitrary: validVerb.chain((verb) =>
      fc.record({
        kind: fc.constant('valid' as const),
        verb: fc.constant(verb),
        args: fc.tuple(...COMMANDS[verb].args.map((k) => VALID_ARG[k])),
        tagged: fc.boolean(),
        yieldAfter: fc.boolean(),
      }),
    ),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      tag: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('none', 'valid') }, { weight: 1, arbitrary: fc.constantFrom('#', '#!x', `#${'y'.repeat(17)}`, '#a\u0001', '#é') }),
      verb: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...VERBS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom('WHOELSE', 'constructor', 'toString', '') }),
      args: fc.array(argWord, { maxLength: 3 }),
      text: fc.option(textArg, { freq: 2 }),
      sep: fc.constantFrom(' ', ' ', '\t', '  '),
      eol: fc.constantFrom('\n', '\n', '\r\n'),
      yieldAfter: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 40 }), yieldAfter: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('string' as const), text: fc.string({ unit: 'binary', maxLength: 60 }), yieldAfter: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('long' as const), length: fc.integer({ min: MAX_LINE_BYTES + 1, max: MAX_LINE_BYTES * 2 }), yieldAfter: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bad-utf8' as const),
      prefix: fc.constantFrom('', 'message yoda ', '#bu whoelse ', 'login '),
      bytes: fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x99], [0xc0, 0xaf], [0xfe, 0xfe]),
      yieldAfter: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('control' as const), at: fc.constantFrom('start' as const, 'text' as const, 'tag' as const), c: fc.constantFrom(...CONTROLS), yieldAfter: fc.boolean() }) },
);

export interface Script {
  /** Log in (as hans, luke or vader, by position) before the random part. */
  login: boolean;
  pieces: Piece[];
  /** sync: finish the line and wait for a reply to `#end help`; half-kill: half a line, then drop; end: half-close. */
  ending: 'sync' | 'half-kill' | 'end';
  half: string;
}

export const script: fc.Arbitrary<Script> = fc.record({
  login: fc.boolean(),
  pieces: fc.array(piece, { maxLength: 24 }),
  ending: fc.constantFrom('sync' as const, 'sync' as const, 'half-kill' as const, 'end' as const),
  half: fc.constantFrom('message leia never fini', '#h1 broad', 'login', 'password x'),
});

/** The bytes of one piece; a valid tag is unique in the run: f<connection>x<piece>. */
export function bytesOf(p: Piece, tag: string): Uint8Array {
  switch (p.kind) {
    case 'valid':
      return encoder.encode(`${p.tagged ? `#${tag} ` : ''}${[p.verb, ...p.args].join(' ')}\n`);
    case 'request': {
      const head = p.tag === 'none' ? '' : p.tag === 'valid' ? `#${tag} ` : `${p.tag} `;
      const args = p.args.length > 0 ? p.sep + p.args.join(p.sep) : '';
      const text = p.text === null ? '' : p.sep + p.text;
      return encoder.encode(`${head}${p.verb}${args}${text}${p.eol}`);
    }
    case 'bytes':
      return p.bytes;
    case 'string':
      return encoder.encode(`${p.text}\n`);
    case 'long':
      return encoder.encode(`message leia ${'x'.repeat(p.length)}\n`);
    case 'bad-utf8':
      return Uint8Array.from([...encoder.encode(p.prefix), ...p.bytes, 0x0a]);
    case 'control': {
      const line = p.at === 'start' ? `${p.c}#${tag} whoelse` : p.at === 'tag' ? `#${tag}${p.c} whoelse` : `#${tag} message leia a${p.c}b`;
      return encoder.encode(`${line}\n`);
    }
  }
}

/**
 * What the server must answer, from the bytes it was sent, as docs/PROTOCOL.md says: each line up
 * to the first over-long one; a parsed tag gets one reply, except on message (answered when the
 * outcome is known, maybe later) and the notifications ack and active (no reply once logged in).
 */
export function expectedTags(stream: Uint8Array): { required: Set<string>; allowed: Set<string> } {
  const required = new Set<string>();
  const allowed = new Set<string>(['L1', 'L2', 'L3', 'end']);
  let start = 0;
  for (let nl = stream.indexOf(0x0a); nl >= 0; start = nl + 1, nl = stream.indexOf(0x0a, start)) {
    const raw = stream.subarray(start, nl);
    if (raw.length > MAX_LINE_BYTES) break;
    let line: string;
    try {
      line = utf8.decode(raw);
    } catch {
      continue;
    }
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (isBlank(line)) continue;
    let tag: string | undefined;
    let verb: string | undefined;
    try {
      ({ tag, verb } = parseRequest(line));
    } catch (err) {
      tag = tagOf(err);
    }
    if (tag === undefined) continue;
    if (verb === 'message' || verb === 'ack' || verb === 'active') allowed.add(tag);
    else required.add(tag);
  }
  return { required, allowed };
}


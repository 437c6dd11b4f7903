// Requests (client -> server): `[#tag ]verb [args]`, one a line. Parse and format; no I/O.

import { COMMANDS, isVerb, usageOf, type ArgKind, type Verb } from './commands.ts';
import { ErrorCode, ProtocolError } from './errors.ts';
import { MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_TAG_CHARS, MAX_TEXT_CHARS } from './limits.ts';

export interface Request {
  /** Echoed as `re` in the reply, so replies can be matched to requests (PROTO-2). */
  readonly tag?: string;
  readonly verb: Verb;
  readonly args: readonly string[];
}

// C0 controls but tab, DEL and C1 controls: they could drive another user's terminal.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
const TAG = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_TAG_CHARS}}$`);
const WHOLE_NUMBER = /^\d{1,9}$/;
/** Seconds may be any whole number: a window longer than the uptime means "since the start" (PRES-3). */
const ANY_WHOLE_NUMBER = /^\d+$/;
const ID = /^\d{1,15}$/;

export function commandList(): string {
  return Object.entries(COMMANDS)
    .filter(([, spec]) => spec.typed)
    .map(([verb]) => verb)
    .join(', ');
}

/** True for a line with nothing but spaces and tabs: such lines are ignored, not answered. */
export function isBlank(line: string): boolean {
  // Spaces and tabs only: other whitespace (CR, VT, NBSP, U+3000, a BOM) is not nothing, and
  // gets an answer like any other line. Most lines start with a word: no regular expression then.
  const c = line.charCodeAt(0);
  if (c !== 0x20 && c !== 0x09 && line.length > 0) return false;
  return /^[ \t]*$/.test(line);
}

/** Parses one line (without its LF). Throws ProtocolError; `err.tag` is set when the tag was read. */
export function parseRequest(line: string): Request {
  return parseHot(line) ?? parseAny(line);
}

/**
 * The requests every message brings (`[#tag ]message <user> <text>` and `[#tag ]ack <id>`) in the
 * plain form clients send, read in one pass over the line (profiled: parsing was a fifth of the
 * server's time a message). Anything else, or anything unusual (a second space, a tab, a control
 * character, a long text or name), returns undefined and goes the general way, which gives the
 * same result or the error.
 */
export function parseHot(line: string): Request | undefined {
  const n = line.length;
  let i = 0;
  let tag: string | undefined;
  if (line.charCodeAt(0) === 0x23) {
    // #tag: 1 to MAX_TAG_CHARS of [A-Za-z0-9_.-], then one space.
    i = 1;
    while (i < n && isTagChar(line.charCodeAt(i))) i++;
    if (i === 1 || i > MAX_TAG_CHARS + 1 || line.charCodeAt(i) !== 0x20) return undefined;
    tag = line.slice(1, i);
    i++;
  }
  if (line.startsWith('ack ', i)) {
    // ack <id>: 1 to 15 digits, and nothing after them.
    const from = i + 4;
    if (n - from < 1 || n - from > 15) return undefined;
    for (let j = from; j < n; j++) {
      const c = line.charCodeAt(j);
      if (c < 0x30 || c > 0x39) return undefined;
    }
    return { tag, verb: 'ack', args: [line.slice(from)] };
  }
  if (!line.startsWith('message ', i)) return undefined;
  // <user>: up to the next space; no other whitespace or control character in it.
  const from = i + 8;
  let end = from;
  for (; end < n; end++) {
    const c = line.charCodeAt(end);
    if (c === 0x20) break;
    if (c <= 0x20 || (c >= 0x7f && (c <= 0xa0 || isWhitespace(c)))) return undefined;
  }
  if (end === from || end === n || end - from > MAX_NAME_CHARS) return undefined;
  // <text>: the rest after one space; it starts with a word character (so it is not blank) and
  // holds no control character (tab is allowed).
  const start = end + 1;
  if (start >= n || n - start > MAX_TEXT_CHARS || isWhitespace(line.charCodeAt(start))) return undefined;
  for (let j = start; j < n; j++) {
    const c = line.charCodeAt(j);
    if ((c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) return undefined;
  }
  return { tag, verb: 'message', args: [line.slice(from, end), line.slice(start)] };
}

function isTagChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d;
}

/** Any request, by the general rules (exported for the tests that hold parseHot to it). */
export function parseAny(line: string): Request {
  let rest = line.trimStart();
  // trimStart() also removes CR, VT and FF: control characters before the first word are refused too.
  if (rest.length !== line.length && CONTROL.test(line.slice(0, line.length - rest.length))) {
    throw new ProtocolError(ErrorCode.BadCharacters, 'Control characters are not allowed');
  }
  let tag: string | undefined;
  if (rest.startsWith('#')) {
    [tag, rest] = splitWord(rest);
    tag = tag.slice(1);
    if (!TAG.test(tag)) throw new ProtocolError(ErrorCode.BadTag, `A tag is # and 1 to ${MAX_TAG_CHARS} letters, digits, _ . or -`);
  }
  if (CONTROL.test(rest)) throw withTag(new ProtocolError(ErrorCode.BadCharacters, 'Control characters are not allowed'), tag);
  const [verb, argText] = splitWord(rest);
  if (!isVerb(verb)) {
    const what = verb === '' ? 'Missing command' : `Unknown command "${clip(verb)}"`;
    throw withTag(new ProtocolError(ErrorCode.UnknownCommand, `${what}. Commands: ${commandList()}`), tag);
  }
  try {
    return { tag, verb, args: parseArgs(verb, COMMANDS[verb].args, argText) };
  } catch (err) {
    throw withTag(err as ProtocolError, tag);
  }
}

/** The tag of a request that failed to parse, when it got that far. */
export function tagOf(err: unknown): string | undefined {
  return (err as { tag?: string }).tag;
}

function withTag(err: ProtocolError, tag: string | undefined): ProtocolError {
  if (tag !== undefined) Object.assign(err, { tag });
  return err;
}

function parseArgs(verb: Verb, kinds: readonly ArgKind[], text: string): string[] {
  const usage = () => new ProtocolError(ErrorCode.Usage, `Usage: ${usageOf(verb, kinds)}`);
  const args: string[] = [];
  let rest = text;
  for (const kind of kinds) {
    if (kind === 'text') {
      if (rest.trim() === '') throw new ProtocolError(ErrorCode.EmptyText, `The text is empty. Usage: ${usageOf(verb, kinds)}`);
      checkText(rest);
      args.push(rest);
      return args;
    }
    const [word, after] = splitWord(rest);
    if (word === '') throw usage();
    checkWord(kind, word, usage);
    args.push(word);
    rest = after;
  }
  if (rest.trim() !== '') throw usage();
  return args;
}

function checkWord(kind: ArgKind, word: string, usage: () => ProtocolError): void {
  switch (kind) {
    case 'user':
      if (word.length > MAX_NAME_CHARS && charCount(word) > MAX_NAME_CHARS) throw new ProtocolError(ErrorCode.Usage, `A username has at most ${MAX_NAME_CHARS} characters`);
      return;
    case 'password':
      if (charCount(word) > MAX_PASSWORD_CHARS) throw new ProtocolError(ErrorCode.Usage, `A password has at most ${MAX_PASSWORD_CHARS} characters`);
      return;
    case 'seconds':
      if (!ANY_WHOLE_NUMBER.test(word)) throw new ProtocolError(ErrorCode.Usage, `<seconds> must be a whole number of seconds, not "${clip(word)}"`);
      return;
    case 'port': {
      const port = Number(word);
      if (!WHOLE_NUMBER.test(word) || port < 1 || port > 65535) throw new ProtocolError(ErrorCode.Usage, `<port> must be 1 to 65535, not "${clip(word)}"`);
      return;
    }
    case 'id':
      if (!ID.test(word)) throw usage();
      return;
    case 'text':
      return;
  }
}

/** Message text: not blank (checked by the caller), at most MAX_TEXT_CHARS characters. */
export function checkText(text: string): void {
  if (text.length > MAX_TEXT_CHARS && charCount(text) > MAX_TEXT_CHARS) {
    throw new ProtocolError(ErrorCode.TextTooLong, `The text is longer than ${MAX_TEXT_CHARS} characters`);
  }
}

/** Formats a request line (with its LF). The caller keeps arguments free of whitespace but the text. */
export function formatRequest(verb: Verb, args: readonly (string | number)[] = [], tag?: string): string {
  const head = tag === undefined ? verb : `#${tag} ${verb}`;
  return args.length === 0 ? `${head}\n` : `${head} ${args.join(' ')}\n`;
}

/** The first word (up to any whitespace, as `\S*`) and the rest after the spaces and tabs that follow it. */
function splitWord(text: string): [string, string] {
  // A loop rather than /^(\S*)[ \t]*/: this runs several times for every request (profiled).
  const n = text.length;
  let end = 0;
  while (end < n && !isWhitespace(text.charCodeAt(end))) end++;
  let rest = end;
  for (let c = text.charCodeAt(rest); c === 0x20 || c === 0x09; c = text.charCodeAt(++rest));
  return [text.slice(0, end), text.slice(rest)];
}

/** What `\s` matches in a JavaScript regular expression. */
function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A user's word quoted back in an error, cut short so an error line stays short. */
function clip(word: string): string {
  return charCount(word) > 24 ? `${[...word].slice(0, 24).join('')}…` : word;
}

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
  // gets an answer like any other line.
  return /^[ \t]*$/.test(line);
}

/** Parses one line (without its LF). Throws ProtocolError; `err.tag` is set when the tag was read. */
export function parseRequest(line: string): Request {
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

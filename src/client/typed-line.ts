// A typed line -> what the user meant (pure). Every command works with or without a leading `/`
// (`/msg`, `/quit`, `/help`, as in IRC); `msg`, `quit`, `exit` and `talk` are other names for
// `message`, `logout`, `logout` and `query`. In a conversation (`/query bob`) a line without `/`
// is a message to bob.

import { isVerb, type Verb } from '../protocol/commands.ts';

export type Action =
  | { readonly kind: 'none' }
  | { readonly kind: 'send'; readonly verb: Verb; readonly rest: string }
  | { readonly kind: 'message'; readonly to: string; readonly text: string }
  | { readonly kind: 'broadcast'; readonly text: string }
  | { readonly kind: 'reply'; readonly text: string }
  | { readonly kind: 'query'; readonly user: string | undefined }
  | { readonly kind: 'private'; readonly to: string; readonly text: string }
  | { readonly kind: 'help'; readonly topic: string | undefined }
  | { readonly kind: 'usage'; readonly usage: string }
  | { readonly kind: 'unknown'; readonly word: string };

/** Other names people type, IRC-style. */
export const ALIASES: Readonly<Record<string, string>> = { msg: 'message', quit: 'logout', exit: 'logout', talk: 'query' };

/** Commands the client handles itself (with their usage, for help). */
export const CLIENT_COMMANDS = {
  query: { usage: 'query [<user>]', summary: 'talk to <user>: lines without / go to them; query alone ends it (also: talk)' },
  reply: { usage: 'reply <text>', summary: 'send <text> to the last person who wrote to you' },
} as const;

export function parseTyped(line: string, query?: string): Action {
  const text = line.trim();
  if (text === '') return { kind: 'none' };
  const slashed = text.startsWith('/');
  if (query !== undefined && !slashed) return { kind: 'message', to: query, text };
  const [typedWord, rest] = splitFirst(slashed ? text.slice(1) : text);
  const word = ALIASES[typedWord] ?? typedWord;
  switch (word) {
    case 'message': {
      const [to, body] = splitFirst(rest);
      if (to === '' || body.trim() === '') return { kind: 'usage', usage: 'message <user> <text>' };
      return { kind: 'message', to, text: body };
    }
    case 'broadcast':
      return rest === '' ? { kind: 'usage', usage: 'broadcast <text>' } : { kind: 'broadcast', text: rest };
    case 'reply':
      return rest === '' ? { kind: 'usage', usage: 'reply <text>' } : { kind: 'reply', text: rest };
    case 'query': {
      const [user, extra] = splitFirst(rest);
      if (extra !== '') return { kind: 'usage', usage: CLIENT_COMMANDS.query.usage };
      return { kind: 'query', user: user === '' ? undefined : user };
    }
    case 'private': {
      const [to, body] = splitFirst(rest);
      if (to === '' || body.trim() === '') return { kind: 'usage', usage: 'private <user> <text>' };
      return { kind: 'private', to, text: body };
    }
    case 'help':
      return { kind: 'help', topic: rest === '' ? undefined : (ALIASES[rest.replace(/^\//, '')] ?? rest.replace(/^\//, '')) };
  }
  if (isVerb(word)) return { kind: 'send', verb: word, rest };
  return { kind: 'unknown', word: typedWord };
}

/** The first word and the rest after the whitespace that follows it. */
export function splitFirst(text: string): [string, string] {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(text) as RegExpExecArray;
  return [m[1] as string, m[2] as string];
}

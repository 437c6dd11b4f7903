// Is a server line what its type promises? A newer server (or a broken one) may send types this
// client does not know, or known types with fields missing or of the wrong kind: the first are
// ignored, the second shown as one clear line, and neither ends the session (CLI-10). Pure.

import type { ServerLine } from '../protocol/server-lines.ts';

const isText = (v: unknown): v is string => typeof v === 'string';
const isName = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Types this client understands; anything else is left alone. */
export const KNOWN_TYPES = new Set(['ok', 'error', 'message', 'broadcast', 'presence', 'bye', 'private-request', 'private-accepted', 'private-declined', 'private-lapsed', 'private-closed']);

/** What is wrong with a line of a known type, or undefined when it is well formed. */
export function problemWith(line: ServerLine): string | undefined {
  const l = line as unknown as Record<string, unknown>;
  switch (line.type) {
    case 'ok':
      return isName(l.code) && (l.text === undefined || isText(l.text)) ? undefined : 'a reply without a code';
    case 'error':
      return isName(l.code) && isText(l.text) ? undefined : 'an error without a code or text';
    case 'message':
    case 'broadcast':
      if (l.key !== undefined && !isNumber(l.key)) return `a ${line.type} with a bad key`;
      return isNumber(l.id) && isName(l.from) && isText(l.body) && isNumber(l.at) ? undefined : `a ${line.type} without a sender, text, id or time`;
    case 'presence':
      return Array.isArray(l.users) && l.users.length > 0 && l.users.every(isName) && typeof l.online === 'boolean' ? undefined : 'a presence line without a list of names';
    case 'bye':
      return isName(l.code) && isText(l.text) ? undefined : 'a goodbye without a reason';
    case 'private-request':
    case 'private-accepted':
    case 'private-declined':
    case 'private-lapsed':
    case 'private-closed':
      if (!isName(l.user)) return `a ${line.type} without a user`;
      if (l.reason !== undefined && !isText(l.reason)) return `a ${line.type} with a bad reason`;
      if (line.type === 'private-accepted' && !(isName(l.host) && isNumber(l.port) && isName(l.token))) return 'a private-accepted without an address or token';
      return undefined;
    default:
      return undefined;
  }
}

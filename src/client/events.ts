// What the client shows: every server line, plus events of its own (private messages, notices, exit).
// describe() turns each into one human-readable line; no I/O, no colour.

import type { ServerLine } from '../protocol/server-lines.ts';

export type LocalEvent =
  | { type: 'private-message'; from: string; body: string; at: number }
  | { type: 'private-open'; user: string }
  | { type: 'notice'; text: string }
  | { type: 'exit'; status: number; reason: string; text: string };

export type UiEvent = ServerLine | LocalEvent;

/** How a line is shown: `kind` picks the colour; quiet lines are left out on a terminal. */
export interface Described {
  readonly text: string;
  readonly kind: 'message' | 'broadcast' | 'private' | 'presence' | 'error' | 'info';
  readonly quiet?: boolean;
}

const CLOSE_REASONS: Record<string, (user: string) => string> = {
  stopped: (u) => `${u} closed it`,
  logout: (u) => `${u} logged out`,
  timeout: (u) => `${u} timed out`,
  disconnected: (u) => `${u} disconnected`,
  unreachable: (u) => `${u} cannot be reached`,
  local: () => 'you closed it',
};

/** `14:02`, or `Nov 20 14:02` when not today. */
export function clock(at: number, now = Date.now()): string {
  const d = new Date(at);
  const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (new Date(now).toDateString() === d.toDateString()) return hhmm;
  return `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()} ${hhmm}`;
}

export function describe(e: UiEvent, now = Date.now()): Described {
  switch (e.type) {
    case 'ok':
      if (e.code === 'delivered') return { text: `Delivered to ${String(e.to)}`, kind: 'info', quiet: true };
      // The prompt that follows says it.
      if (e.code === 'password') return { text: e.text ?? 'Password', kind: 'info', quiet: true };
      if (e.code === 'sent') return { text: `Broadcast sent to ${String(e.reached)} ${e.reached === 1 ? 'user' : 'users'}`, kind: 'info', quiet: true };
      return { text: e.text ?? e.code, kind: 'info', quiet: e.text === undefined };
    case 'error':
      return { text: e.text, kind: 'error' };
    case 'message':
      return e.offline
        ? { text: `${e.from} (sent ${clock(e.at, now)} while you were away): ${e.body}`, kind: 'message' }
        : { text: `${e.from}: ${e.body}`, kind: 'message' };
    case 'broadcast':
      return { text: `${e.from} to everyone: ${e.body}`, kind: 'broadcast' };
    case 'presence':
      return { text: `${listNames(e.users)} ${e.online ? 'logged in' : 'logged out'}`, kind: 'presence' };
    case 'bye':
      return { text: e.text, kind: e.code === 'logout' ? 'info' : 'error' };
    case 'private-request':
      return { text: `${e.user} asks for a private chat: type "accept ${e.user}" or "decline ${e.user}"`, kind: 'private' };
    case 'private-accepted':
      return { text: `${e.user} accepted your private chat; connecting`, kind: 'private', quiet: true };
    case 'private-declined':
      return { text: `${e.user} declined your private chat`, kind: 'private' };
    case 'private-lapsed':
      return { text: `The private-chat request between you and ${e.user} lapsed (${e.reason ?? 'no answer'})`, kind: 'private' };
    case 'private-closed':
      return { text: `Private chat with ${e.user} closed: ${(CLOSE_REASONS[e.reason ?? ''] ?? (() => e.reason ?? 'closed'))(e.user)}`, kind: 'private' };
    case 'private-open':
      return { text: `Private chat with ${e.user} is open: private ${e.user} <text>`, kind: 'private' };
    case 'private-message':
      return { text: `${e.from} (private): ${e.body}`, kind: 'private' };
    case 'notice':
      return { text: e.text, kind: 'info' };
    case 'exit':
      // A clean exit follows the server's goodbye, which said it already.
      return { text: e.text, kind: e.status === 0 ? 'info' : 'error', quiet: e.status === 0 };
  }
}

/** `hans`, `hans and leia`, `hans, leia and luke`, `12 users: a, b, … and 4 more`. */
export function listNames(names: readonly string[]): string {
  if (names.length <= 3) return names.length < 2 ? (names[0] ?? 'nobody') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  const shown = names.slice(0, 8);
  const more = names.length - shown.length;
  return `${names.length} users: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** What `--json` prints: the event with a human-readable `text` (CLI-5). */
export function toJson(e: UiEvent, now = Date.now()): string {
  // A private-chat token is the client's own business: printed, it could be copied off a log.
  return JSON.stringify({ ...e, text: describe(e, now).text }, (key, value) => (key === 'token' ? undefined : value));
}

// Whatever a server or peer sends must not drive the terminal: C0/C1 controls but LF and tab become "?".
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
export function sanitize(text: string): string {
  return text.replace(CONTROL, '?');
}

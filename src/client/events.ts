// What the client shows: every server line, plus events of its own (your own messages and their
// fate, private messages, notices, exit). describe() turns each into one human-readable line; no
// I/O, no colour. Everything that came from a server or a peer is made one line of plain text
// first (CLI-10): it must never drive the terminal or forge lines.

import type { ServerLine } from '../protocol/server-lines.ts';

/** What became of a message you sent (CLI-8). */
export type Fate = 'delivered' | 'stored' | 'refused' | 'sent' | 'partial' | 'unknown';

export type LocalEvent =
  | { type: 'private-message'; from: string; body: string; at: number }
  | { type: 'private-open'; user: string }
  /** A message you sent: to a user, to everyone (`to` undefined) or over a private chat. */
  | { type: 'own'; from: string; to?: string; private?: boolean; body: string; at: number; fate: Fate; reason?: string; reached?: number; pending?: number }
  /** A line from the server the client could not make sense of (CLI-10): shown, then ignored. */
  | { type: 'malformed'; text: string }
  | { type: 'notice'; text: string }
  | { type: 'exit'; status: number; reason: string; text: string };

export type UiEvent = ServerLine | LocalEvent;

/** How a line is shown: `kind` picks the colour; quiet lines are left out on a terminal. */
export interface Described {
  readonly text: string;
  readonly kind: 'message' | 'broadcast' | 'private' | 'presence' | 'error' | 'info' | 'own';
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
  const d = new Date(Number.isFinite(at) ? at : now);
  const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (new Date(now).toDateString() === d.toDateString()) return hhmm;
  return `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()} ${hhmm}`;
}

/** The suffix that says what became of your message. */
function fateText(e: Extract<LocalEvent, { type: 'own' }>): string {
  switch (e.fate) {
    case 'delivered':
      return '✓ delivered';
    case 'stored':
      return `✓ stored until ${e.to === undefined ? 'they log' : `${e.to} logs`} in`;
    case 'sent':
      return e.private ? '✓ sent' : `✓ reached ${e.reached ?? 0} ${e.reached === 1 ? 'user' : 'users'}`;
    case 'partial':
      // `pending`: users on other nodes of a cluster that could not be told yet; they get it later.
      if (e.pending) return `✓ reached ${e.reached ?? 0} ${e.reached === 1 ? 'user' : 'users'}; ${e.pending} on other servers get it once the server reaches them`;
      return `✓ reached ${e.reached ?? 0} ${e.reached === 1 ? 'user' : 'users'}; some did not get it`;
    case 'refused':
      return `✗ not sent: ${e.reason ?? 'refused'}`;
    case 'unknown':
      return `? ${e.reason ?? 'no answer'}`;
  }
}

/** The head of an own line: `hans → yoda`, `hans → everyone`, `hans → yoda (private)`. */
export function ownHead(e: Extract<LocalEvent, { type: 'own' }>): string {
  return `${e.from} → ${e.to === undefined ? 'everyone' : oneLine(e.to)}${e.private ? ' (private)' : ''}`;
}

export function describe(e: UiEvent, now = Date.now()): Described {
  // Fields from the wire are shown as one line of text, whatever they hold (CLI-10).
  const f = (value: unknown): string => oneLine(typeof value === 'string' ? value : String(value));
  switch (e.type) {
    case 'ok':
      if (e.code === 'delivered') return { text: `Delivered to ${f(e.to)}`, kind: 'info', quiet: true };
      // The prompt that follows says it.
      if (e.code === 'password') return { text: e.text === undefined ? 'Password' : f(e.text), kind: 'info', quiet: true };
      if (e.code === 'sent') return { text: `Broadcast sent to ${f(e.reached)} ${e.reached === 1 ? 'user' : 'users'}`, kind: 'info', quiet: true };
      return { text: f(e.text ?? e.code), kind: 'info', quiet: e.text === undefined };
    case 'error':
      return { text: f(e.text), kind: 'error' };
    case 'message':
      return e.offline
        ? { text: `${f(e.from)} (sent ${clock(e.at, now)} while you were away): ${f(e.body)}`, kind: 'message' }
        : { text: `${f(e.from)}: ${f(e.body)}`, kind: 'message' };
    case 'broadcast':
      return { text: `${f(e.from)} to everyone: ${f(e.body)}`, kind: 'broadcast' };
    case 'presence':
      return { text: `${listNames(e.users.map(f))} ${e.online ? 'logged in' : 'logged out'}`, kind: 'presence' };
    case 'bye':
      // On a terminal the exit line that follows says it ("Disconnected: …"): once is enough.
      return { text: f(e.text), kind: e.code === 'logout' ? 'info' : 'error', quiet: true };
    case 'private-request':
      return { text: `${f(e.user)} asks for a private chat: type "accept ${f(e.user)}" or "decline ${f(e.user)}"`, kind: 'private' };
    case 'private-accepted':
      return { text: `${f(e.user)} accepted your private chat; connecting`, kind: 'private', quiet: true };
    case 'private-declined':
      return { text: `${f(e.user)} declined your private chat`, kind: 'private' };
    case 'private-lapsed':
      return { text: `The private-chat request between you and ${f(e.user)} lapsed (${f(e.reason ?? 'no answer')})`, kind: 'private' };
    case 'private-closed': {
      const user = f(e.user);
      const reason = CLOSE_REASONS[e.reason ?? ''];
      return { text: `Private chat with ${user} closed: ${reason ? reason(user) : f(e.reason ?? 'closed')}`, kind: 'private' };
    }
    case 'private-open':
      return { text: `Private chat with ${f(e.user)} is open: private ${f(e.user)} <text>`, kind: 'private' };
    case 'private-message':
      return { text: `${f(e.from)} (private): ${f(e.body)}`, kind: 'private' };
    case 'own':
      return { text: `${ownHead(e)}: ${f(e.body)}  ${f(fateText(e))}`, kind: e.fate === 'refused' ? 'error' : 'own' };
    case 'malformed':
      return { text: f(e.text), kind: 'error' };
    case 'notice':
      return { text: e.text, kind: 'info' };
    case 'exit':
      // A clean exit follows the server's goodbye, which said it already.
      return { text: e.text, kind: e.status === 0 ? 'info' : 'error', quiet: e.status === 0 };
    default:
      // A type this client does not know (a newer server): not shown; --json passes it on.
      return { text: `${f((e as { type: unknown }).type)}`, kind: 'info', quiet: true };
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

// C0 and C1 controls (but tab and LF) could drive the terminal: each becomes "?".
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Line breaks (LF, CR, NEL, line and paragraph separators) would forge whole lines.
const BREAKS = /\r\n|[\n\r\u0085\u2028\u2029]/g;
// Bidi embeddings, overrides, isolates and marks could make text read backwards (CLI-10).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Controls made harmless; line breaks and tabs kept (for the client's own multi-line text). */
export function sanitize(text: string): string {
  return text.replace(CONTROL, '?');
}

/**
 * What a server or peer sent, as one line of plain text (CLI-10): a line break shows as ⏎, a tab
 * as a space, a control character or a bidi control as ?.
 */
export function oneLine(text: string): string {
  return text.replace(BREAKS, '⏎').replace(/\t/g, ' ').replace(CONTROL, '?').replace(BIDI, '?');
}

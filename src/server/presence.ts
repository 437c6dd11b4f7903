// Who is online: login/logout notifications, whoelse, whoelsesince (PRES-*), filtered by blocks (BLK-2).

import { encodeLine } from '../protocol/server-lines.ts';
import type { Context } from './context.ts';
import type { ServerState } from './state.ts';

/** One login or logout announced during the current event-loop turn. */
interface PresenceEvent {
  readonly user: string;
  readonly line: string;
  /** Users the announcer blocks (a copy): they are not told (BLK-2). */
  readonly blocked: ReadonlySet<string> | undefined;
}

/** The turn's announcements, sent together at its end (see flushPresence). */
interface PresenceBatch {
  events: PresenceEvent[];
  /** Users who logged in this turn -> index of their own login event: they hear only later ones. */
  joined: Map<string, number>;
  readonly request: () => void;
  /** performance.now() of the last send; a storm of logins is sent at most every PRESENCE_PACE_MS. */
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Each send of a batch costs a write to every online user, however few lines it holds. Sending at
 * most this often keeps a login storm from making that a write per user per turn: 19,000 logins
 * then cost a few hundred sends instead of thousands. An announcement after a quiet spell goes out
 * at the end of its turn; during a storm it waits at most this long.
 */
export const PRESENCE_PACE_MS = 50;

const batches = new WeakMap<ServerState, PresenceBatch>();

/**
 * Makes announcements of a turn go out together at its end. `request` arranges an end-of-turn
 * run; the returned function is that run's hook (the server registers it with its TurnFlusher).
 * Without it (unit tests building a bare ServerState) each announcement goes out at once.
 */
export function batchPresence(state: ServerState, request: () => void): () => void {
  batches.set(state, { events: [], joined: new Map(), request, sentAt: -Infinity, timer: undefined });
  return () => flushPresence(state);
}

/**
 * PRES-1: tells every other online user, except those `user` has blocked.
 *
 * A login storm makes n logins cost n^2/2 lines whatever we do, but not n^2/2 queue operations:
 * the lines of one turn are joined once and that one string is queued for every user who was
 * online all turn. Only users who logged in during the turn (they hear just the events after
 * their own login) or whom an announcer blocks get a text of their own.
 */
export function announce(state: ServerState, user: string, online: boolean): void {
  const line = encodeLine({ type: 'presence', user, online });
  const blocks = state.blocks.get(user);
  const blocked = blocks && blocks.size > 0 ? new Set(blocks) : undefined;
  const batch = batches.get(state);
  if (!batch) {
    for (const session of state.sessions.values()) {
      if (session.name !== user && !blocked?.has(session.name)) session.conn.send(line);
    }
    return;
  }
  if (online) batch.joined.set(user, batch.events.length);
  batch.events.push({ user, line, blocked });
  if (batch.events.length === 1) batch.request();
}

/** Sends the turn's announcements (runs at the end of the turn, before the outboxes flush). */
export function flushPresence(state: ServerState): void {
  const batch = batches.get(state);
  if (!batch || batch.events.length === 0 || batch.timer !== undefined) return;
  const wait = batch.sentAt + PRESENCE_PACE_MS - performance.now();
  if (wait > 0) {
    batch.timer = setTimeout(() => {
      batch.timer = undefined;
      batch.request();
    }, wait);
    return;
  }
  batch.sentAt = performance.now();
  const { events, joined } = batch;
  batch.events = [];
  batch.joined = new Map();
  const excluded = new Set<string>();
  for (const event of events) {
    if (event.blocked) for (const name of event.blocked) excluded.add(name);
  }
  const all = events.length === 1 ? (events[0] as PresenceEvent).line : events.map((e) => e.line).join('');
  for (const session of state.sessions.values()) {
    const name = session.name;
    const from = joined.get(name);
    if (from === undefined && !excluded.has(name)) {
      session.conn.send(all);
      continue;
    }
    let text = '';
    for (let i = from === undefined ? 0 : from + 1; i < events.length; i++) {
      const event = events[i] as PresenceEvent;
      if (event.user !== name && !event.blocked?.has(name)) text += event.line;
    }
    if (text !== '') session.conn.send(text);
  }
}

// whoelse
export function whoelse(ctx: Context): void {
  const users = visibleOnline(ctx.state, ctx.user);
  ctx.ok('users', { users, text: describeUsers(users, 'online now') });
}

// whoelsesince <seconds>
export function whoelsesince(ctx: Context, [seconds]: readonly string[]): void {
  const { state } = ctx;
  const me = ctx.user;
  const since = state.now() - Number(seconds) * 1000;
  const users = visibleOnline(state, me);
  for (const [user, at] of state.lastSeen) {
    if (at >= since && user !== me && !state.isBlocking(user, me)) users.push(user);
  }
  users.sort();
  ctx.ok('users', { users, text: describeUsers(users, `online in the last ${seconds} s`) });
}

/** PRES-2: online users but `me` and those who block `me`, sorted. */
function visibleOnline(state: ServerState, me: string): string[] {
  const users: string[] = [];
  for (const name of state.sessions.keys()) {
    if (name !== me && !state.isBlocking(name, me)) users.push(name);
  }
  return users.sort();
}

function describeUsers(users: string[], when: string): string {
  return users.length === 0 ? `Nobody else ${when}` : `${users.length} ${users.length === 1 ? 'user' : 'users'} ${when}: ${users.join(', ')}`;
}

// Who is online: login/logout notifications, whoelse, whoelsesince (PRES-*), filtered by blocks (BLK-2).

import type { Context } from './context.ts';
import type { ServerState } from './state.ts';

/** One login or logout announced during the current event-loop turn. */
interface PresenceEvent {
  readonly user: string;
  readonly online: boolean;
  /** The name as a JSON string, made once for every line it goes into. */
  readonly quoted: string;
  /** Users the announcer blocks (a copy): they are not told (BLK-2). */
  readonly blocked: ReadonlySet<string> | undefined;
}

/**
 * Each send costs a write() to every online user, however little it holds, and in a login storm
 * those writes are most of the server's work (profiled: 79 % in native write). So sends are
 * paced: at most one every PRESENCE_PACE_MS, or every PRESENCE_PACE_US_PER_USER µs per online
 * user when that is longer (19,000 online: about every 380 ms, some 50,000 writes a second).
 * After a quiet spell an announcement goes out at the end of its turn.
 */
export const PRESENCE_PACE_MS = 50;
export const PRESENCE_PACE_US_PER_USER = 20;

/** Logins and logouts not yet sent (ServerState.presence). */
export class PresenceQueue {
  events: PresenceEvent[] = [];
  /** Users who logged in since the last send -> index of their own login: they hear only later events. */
  joined = new Map<string, number>();
  /** performance.now() of the last send. */
  sentAt = -Infinity;
  timer: ReturnType<typeof setTimeout> | undefined;

  /** `request` arranges an end-of-turn run of flushPresence (the server's TurnFlusher). */
  constructor(readonly request: () => void) {}
}

/**
 * PRES-1: tells every other online user, except those `user` has blocked. The announcement goes
 * out with the others of its turn, at its end (flushPresence).
 */
export function announce(state: ServerState, user: string, online: boolean): void {
  const queue = state.presence;
  const blocks = state.blocks.get(user);
  queue.events.push({ user, online, quoted: JSON.stringify(user), blocked: blocks && blocks.size > 0 ? new Set(blocks) : undefined });
  if (online) queue.joined.set(user, queue.events.length - 1);
  if (queue.events.length === 1) queue.request();
}

/**
 * Sends what was announced, at the end of a turn (at most every PRESENCE_PACE_MS).
 *
 * A login storm makes n logins cost n^2/2 names sent whatever we do, but not n^2/2 lines or
 * queue operations: consecutive logins (or logouts) share one line, and the turn's text is made
 * once and queued for every user who was online all turn. Only users who logged in during it
 * (they hear just the events after their own login) or whom an announcer blocks get their own.
 */
export function flushPresence(state: ServerState): void {
  const queue = state.presence;
  if (queue.events.length === 0 || queue.timer !== undefined) return;
  const pace = Math.max(PRESENCE_PACE_MS, (state.sessions.size * PRESENCE_PACE_US_PER_USER) / 1000);
  const wait = queue.sentAt + pace - performance.now();
  if (wait > 0) {
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      queue.request();
    }, wait);
    return;
  }
  queue.sentAt = performance.now();
  const { events, joined } = queue;
  queue.events = [];
  queue.joined = new Map();
  const excluded = new Set<string>();
  for (const event of events) {
    if (event.blocked) for (const name of event.blocked) excluded.add(name);
  }
  const all = presenceLines(events);
  for (const session of state.sessions.values()) {
    const name = session.name;
    const from = joined.get(name);
    if (from === undefined && !excluded.has(name)) {
      session.conn.send(all);
      continue;
    }
    const mine = events.filter((event, i) => i > (from ?? -1) && event.user !== name && !event.blocked?.has(name));
    if (mine.length > 0) session.conn.send(presenceLines(mine));
  }
}

/** `{"type":"presence","online":true,"users":[...]}` lines, one for each run of logins or logouts, in order. */
export function presenceLines(events: readonly PresenceEvent[]): string {
  let text = '';
  for (let i = 0; i < events.length; ) {
    const online = (events[i] as PresenceEvent).online;
    let names = (events[i++] as PresenceEvent).quoted;
    while (i < events.length && (events[i] as PresenceEvent).online === online) names += `,${(events[i++] as PresenceEvent).quoted}`;
    text += `{"type":"presence","online":${online},"users":[${names}]}\n`;
  }
  return text;
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
  for (const [user, at] of state.delivery.lastSeen()) {
    if (at >= since && user !== me && !state.isBlocking(user, me)) users.push(user);
  }
  users.sort();
  ctx.ok('users', { users, text: describeUsers(users, `online in the last ${seconds} s`) });
}

/** PRES-2: online users but `me` and those who block `me`, sorted. */
function visibleOnline(state: ServerState, me: string): string[] {
  const users: string[] = [];
  for (const name of state.delivery.online()) {
    if (name !== me && !state.isBlocking(name, me)) users.push(name);
  }
  return users.sort();
}

function describeUsers(users: string[], when: string): string {
  return users.length === 0 ? `Nobody else ${when}` : `${users.length} ${users.length === 1 ? 'user' : 'users'} ${when}: ${users.join(', ')}`;
}

// Who is online: login/logout notifications, whoelse, whoelsesince (PRES-*), filtered by blocks (BLK-2).

import { encodeLine } from '../protocol/server-lines.ts';
import type { Context } from './context.ts';
import type { ServerState } from './state.ts';

/** PRES-1: tells every other online user, except those `user` has blocked. */
export function announce(state: ServerState, user: string, online: boolean): void {
  const line = encodeLine({ type: 'presence', user, online });
  const blocked = state.blocks.get(user);
  for (const session of state.sessions.values()) {
    if (session.name !== user && !blocked?.has(session.name)) session.conn.send(line);
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

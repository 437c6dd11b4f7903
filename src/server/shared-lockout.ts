// AUTH-4 and SEC-1 when several nodes share the usernames (CLU-2): strikes are counted once, in
// Redis (src/cluster/lockout.ts), instead of in this process's ServerState.failures. The server
// sees only this interface; the cluster's ClusterLockout implements it.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { errorLine } from '../protocol/server-lines.ts';
import type { Context } from './context.ts';
import { checkPassword } from './passwords.ts';

export interface SharedLockout {
  /** Whether a password for `user` may be checked now (a strike is free), or it is locked, or all its strikes are being checked. */
  begin(user: string): Promise<{ readonly go: true } | { readonly go: false; readonly reason: 'locked'; readonly ms: number } | { readonly go: false; readonly reason: 'busy' }>;
  fail(user: string): Promise<{ readonly locked: false; readonly strikes: number } | { readonly locked: true; readonly ms: number }>;
  succeed(user: string): Promise<void>;
  /** A begun check that could not be made (it threw): no strike, and its place is free at once. */
  abandon(user: string): Promise<void>;
  /** How long `user` stays locked (0: not locked). */
  lockedFor(user: string): Promise<number>;
}

const MAX = 3;

/** The connection is told the name is locked and closed (AUTH-4); throws to end the command. */
export function refuseLocked(ctx: Context, name: string, ms: number): never {
  ctx.conn.close('locked', errorLine(ctx.tag, ErrorCode.Locked, `${name} is blocked after too many wrong passwords; try again in ${Math.ceil(ms / 1000)} s`));
  throw new ChatError(ErrorCode.Locked, 'locked');
}

/**
 * Checks `secret` for `name` with the strikes shared by every node (SEC-1: at most three wrong ones
 * checked per lock period, however many nodes and connections guess at once). True when right; when
 * wrong, the caller's connection has been told (or closed on the third strike).
 */
export async function checkShared(ctx: Context, lockout: SharedLockout, name: string, secret: string): Promise<boolean> {
  const { state, conn } = ctx;
  for (;;) {
    if (conn.closed) throw new ChatError(ErrorCode.Locked, 'closed');
    const begin = await lockout.begin(name);
    if (begin.go) break;
    if (begin.reason === 'locked') refuseLocked(ctx, name, begin.ms);
    // Every strike is being checked (on some node): wait for one of them to end.
    await Bun.sleep(20);
  }
  let right: boolean;
  try {
    right = await checkPassword(secret, state.accounts.get(name) as string, state.hashing, conn.key);
  } catch (err) {
    // Not checked (the password queue is full, say): no strike, and the place it held is given back
    // now rather than when it lapses (30 s), when it would keep every other guess, right or not, waiting.
    await lockout.abandon(name).catch((e: unknown) => state.log(`giving back a password check of ${name}: ${String(e)}`));
    throw err;
  }
  if (right) {
    await lockout.succeed(name);
    return true;
  }
  const strike = await lockout.fail(name);
  state.log(`failed login for ${name} from ${conn.address}${strike.locked ? `: locked for ${state.config.blockDurationMs / 1000} s` : ` (${strike.strikes} of ${MAX})`}`);
  const ban = state.bans.fail(conn.key, state.now());
  if (ban > 0) {
    state.log(`ban ${conn.key} for ${ban / 1000} s: ${state.config.maxAuthFailures} failed logins within 10 min`);
    conn.close('banned', errorLine(ctx.tag, ErrorCode.Banned, `Too many failed logins from ${conn.address}; try again in ${ban / 1000} s`));
    return false;
  }
  if (strike.locked) {
    conn.close('locked', errorLine(ctx.tag, ErrorCode.Locked, `Wrong password ${MAX} times: ${name} is blocked for ${state.config.blockDurationMs / 1000} s`));
    return false;
  }
  const left = MAX - strike.strikes;
  ctx.error(ErrorCode.WrongPassword, `Wrong password (${left} ${left === 1 ? 'try' : 'tries'} left)`);
  return false;
}

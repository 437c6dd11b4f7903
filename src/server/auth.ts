// Logging in (AUTH-*): `login <user>` then `password <password>`; registration, lockout, one session per user.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { BURST_SECONDS } from '../protocol/limits.ts';
import { errorLine } from '../protocol/server-lines.ts';
import type { Context } from './context.ts';
import { checkPassword } from './passwords.ts';
import { startSession } from './session.ts';
import type { ServerState } from './state.ts';

/** Wrong passwords in a row that lock a username (AUTH-4). */
export const MAX_FAILURES = 3;

/** Persists a new account (hashing, appending to the credentials file). Rejects on failure. */
export type Registrar = (user: string, password: string) => Promise<string>;

// login <user>
export function login(ctx: Context, [user]: readonly string[]): void {
  const name = user as string;
  const { state, conn } = ctx;
  conn.pendingUser = undefined;
  refuseIfLocked(ctx, name);
  if (!state.accounts.has(name)) {
    if (!state.config.register) throw new ChatError(ErrorCode.RegistrationClosed, `There is no account ${name} and this server does not take new ones`);
    conn.pendingUser = name;
    conn.newAccount = true;
    ctx.ok('new-account', { user: name, text: `${name} is a new account: choose a password` });
    return;
  }
  conn.pendingUser = name;
  conn.newAccount = false;
  ctx.ok('password', { user: name, text: `Password for ${name}` });
}

// password <password>
export function makePasswordHandler(register: Registrar) {
  return async function password(ctx: Context, [secret]: readonly string[]): Promise<void> {
    const { state, conn } = ctx;
    const name = conn.pendingUser;
    if (name === undefined) throw new ChatError(ErrorCode.NoUsername, 'Send login <user> first');
    refuseIfLocked(ctx, name);
    refuseIfOnline(ctx, name);
    if (conn.newAccount && !state.accounts.has(name)) {
      // Claim the name now, so that a second registration of it racing this one is checked as a login.
      state.accounts.set(name, secret as string);
      try {
        state.accounts.set(name, await register(name, secret as string));
      } catch (err) {
        state.accounts.delete(name);
        if (err instanceof ChatError) throw err;
        state.log(`registration of ${name} failed: ${String(err)}`);
        throw new ChatError(ErrorCode.Internal, 'The new account could not be saved; try again later');
      }
      state.log(`new account ${name}`);
    } else if (!(await checkPassword(secret as string, state.accounts.get(name) as string, state.hashing))) {
      recordFailure(ctx, name);
      return;
    }
    if (conn.closed) return;
    // Checked again: another connection may have logged in while the password was checked.
    refuseIfOnline(ctx, name);
    // The client paces itself with the server's budget, so that it never runs into it.
    const { rateLimit } = state.config;
    const budget = rateLimit > 0 ? { rateLimit: { rate: rateLimit, burst: rateLimit * BURST_SECONDS } } : {};
    // `server` names the database, so that clients know which ids they have seen (see sendBacklog).
    // `inactivity` (seconds) lets the client warn shortly before an inactivity logout (SESS-1).
    startSession(state, conn, name, () => ctx.ok('welcome', { user: name, text: `Welcome, ${name}!`, server: state.instance, inactivity: state.config.timeoutMs / 1000, ...budget }));
  };
}

function refuseIfOnline(ctx: Context, name: string): void {
  if (ctx.state.sessions.has(name)) {
    ctx.conn.pendingUser = undefined;
    throw new ChatError(ErrorCode.AlreadyOnline, `${name} is already logged in elsewhere`);
  }
}

/** A locked username: the connection is told and closed (AUTH-4). */
function refuseIfLocked(ctx: Context, name: string): void {
  const until = ctx.state.lockedUntil.get(name);
  if (until === undefined || until <= ctx.state.now()) return;
  const seconds = Math.ceil((until - ctx.state.now()) / 1000);
  lockedOut(ctx, `${name} is blocked after too many wrong passwords; try again in ${seconds} s`);
  throw new ChatError(ErrorCode.Locked, 'locked');
}

function recordFailure(ctx: Context, name: string): void {
  const { state } = ctx;
  const failures = (state.failures.get(name) ?? 0) + 1;
  if (failures < MAX_FAILURES) {
    state.failures.set(name, failures);
    ctx.error(ErrorCode.WrongPassword, `Wrong password (${MAX_FAILURES - failures} ${MAX_FAILURES - failures === 1 ? 'try' : 'tries'} left)`);
    return;
  }
  lock(state, name);
  const seconds = state.config.blockDurationMs / 1000;
  lockedOut(ctx, `Wrong password ${MAX_FAILURES} times: ${name} is blocked for ${seconds} s`);
}

function lock(state: ServerState, name: string): void {
  state.failures.delete(name);
  state.lockedUntil.set(name, state.now() + state.config.blockDurationMs);
  state.wheel.schedule(state.config.blockDurationMs, () => {
    if ((state.lockedUntil.get(name) ?? Infinity) <= state.now()) state.lockedUntil.delete(name);
  });
  state.log(`lockout ${name} for ${state.config.blockDurationMs / 1000} s`);
}

/** Replies with the `locked` error and closes the connection. */
function lockedOut(ctx: Context, text: string): void {
  ctx.conn.close('locked', errorLine(ctx.tag, ErrorCode.Locked, text));
}

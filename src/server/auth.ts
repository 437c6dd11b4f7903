// Logging in (AUTH-*): `login <user>` then `password <password>`; registration, lockout, one session per user.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { BURST_SECONDS, MIN_PASSWORD_CHARS } from '../protocol/limits.ts';
import { usernameProblem } from '../protocol/usernames.ts';
import { errorLine } from '../protocol/server-lines.ts';
import { isRetryable } from '../store/async-store.ts';
import type { LoggingIn } from './connection.ts';
import type { Context } from './context.ts';
import { checkPassword } from './passwords.ts';
import { startSession } from './session.ts';
import { checkShared, refuseLocked } from './shared-lockout.ts';
import type { ServerState } from './state.ts';

/** Wrong passwords in a row that lock a username (AUTH-4). */
export const MAX_FAILURES = 3;

/** Persists a new account (hashing, appending to the credentials file). Rejects on failure. */
export type Registrar = (user: string, password: string) => Promise<string>;

// login <user>
export function login(ctx: Context, args: readonly string[]): void | Promise<void> {
  const name = args[0] as string;
  const { state, conn } = ctx;
  // A login-phase command: the dispatcher runs it only before the welcome.
  const loggingIn = conn.loggingIn as LoggingIn;
  loggingIn.user = undefined;
  refuseIfBanned(ctx);
  refuseIfLocked(ctx, name);
  // A shared store may hold an account registered on another node since this one started, and
  // another node may have locked the name (CLU-2).
  const lookUp = !state.accounts.has(name) && state.sharedStore;
  if ((lookUp || state.lockout) && !loggingIn.lookedUp) {
    loggingIn.lookedUp = true;
    const lockout = state.lockout;
    return (async () => {
      if (lookUp) await learnAccount(state, name);
      const ms = lockout ? await lockout.lockedFor(name) : 0;
      if (ms > 0) refuseLocked(ctx, name, ms);
      return login(ctx, args);
    })().finally(() => {
      loggingIn.lookedUp = false;
    });
  }
  if (!state.accounts.has(name)) {
    if (!state.config.register) throw new ChatError(ErrorCode.RegistrationClosed, `There is no account ${name} and this server does not take new ones`);
    refuseBadName(ctx, name);
    refuseIfTooManyRegistrations(ctx);
    loggingIn.user = name;
    loggingIn.newAccount = true;
    ctx.ok('new-account', { user: name, text: `${name} is a new account: choose a password` });
    return;
  }
  loggingIn.user = name;
  loggingIn.newAccount = false;
  ctx.ok('password', { user: name, text: `Password for ${name}` });
}

// password <password>
export function makePasswordHandler(register: Registrar) {
  return async function password(ctx: Context, [secret]: readonly string[]): Promise<void> {
    const { state, conn } = ctx;
    // A login-phase command: the dispatcher runs it only before the welcome.
    const loggingIn = conn.loggingIn as LoggingIn;
    const name = loggingIn.user;
    if (name === undefined) throw new ChatError(ErrorCode.NoUsername, 'Send login <user> first');
    refuseIfBanned(ctx);
    refuseIfLocked(ctx, name);
    refuseIfOnline(ctx, name);
    if (loggingIn.newAccount && !state.accounts.has(name)) {
      if ([...(secret as string)].length < MIN_PASSWORD_CHARS) {
        throw new ChatError(ErrorCode.PasswordTooShort, `A new account's password needs at least ${MIN_PASSWORD_CHARS} characters; send a longer one`);
      }
      // Checked again: a similar name may have registered since `login`.
      refuseBadName(ctx, name);
      refuseIfTooManyRegistrations(ctx);
      state.registrations.record(conn.key, state.now());
      state.allRegistrations.record('', state.now());
      // Claim the name now, so that a second registration of it racing this one is checked as a login.
      state.accounts.set(name, secret as string);
      state.indexName(name);
      try {
        state.accounts.set(name, await register(name, secret as string));
      } catch (err) {
        state.accounts.delete(name);
        state.unindexName(name);
        if (err instanceof ChatError) throw err;
        state.log(`registration of ${name} failed: ${String(err)}`);
        throw new ChatError(ErrorCode.Internal, 'The new account could not be saved; try again later');
      }
      // Whatever waits for an earlier holder of the name is not the newcomer's (SEC-4).
      await state.offline.flush();
      await forgetEarlierHolder(state, name);
      state.mailboxes.delete(name);
      state.blocks.delete(name);
      state.log(`new account ${name} from ${conn.address}`);
    } else if (state.lockout) {
      if (!(await checkShared(ctx, state.lockout, name, secret as string))) return;
    } else {
      // SEC-1: the guess takes one of the name's three strikes before it is checked, so however
      // many arrive at once, at most three wrong ones are ever checked per lock period.
      await reserveStrike(ctx, name);
      let right = false;
      try {
        right = await checkPassword(secret as string, state.accounts.get(name) as string, state.hashing, conn.key);
        if (!right) recordFailure(ctx, name);
      } finally {
        releaseStrike(state, name);
      }
      if (!right) return;
    }
    if (conn.closed) return;
    // Every id this user sees from now on is above any it saw on another node.
    if (state.sharedStore) await state.ids.renew();
    if (conn.closed) return;
    // Checked again: another connection may have logged in while the password was checked.
    refuseIfOnline(ctx, name);
    // AUTH-5 on every node: the session is claimed (in a cluster, in Redis).
    const claimed = await state.delivery.claim(name);
    if (claimed === 'busy') throw new ChatError(ErrorCode.Busy, 'The server is catching up with the cluster; try again in a moment');
    if (claimed === 'taken') {
      loggingIn.user = undefined;
      throw new ChatError(ErrorCode.AlreadyOnline, `${name} is already logged in elsewhere`);
    }
    if (conn.closed || state.sessions.has(name)) {
      // Gone (or beaten by another connection here) while claiming: the claim is given back.
      if (conn.closed && !state.sessions.has(name)) state.delivery.unclaim(name);
      if (conn.closed) return;
      refuseIfOnline(ctx, name);
    }
    // The client paces itself with the server's budget, so that it never runs into it.
    const { rateLimit } = state.config;
    const budget = rateLimit > 0 ? { rateLimit: { rate: rateLimit, burst: rateLimit * BURST_SECONDS } } : {};
    // `server` names the database, so that clients know which ids they have seen (see sendBacklog).
    // `inactivity` (seconds) lets the client warn shortly before an inactivity logout (SESS-1).
    await startSession(state, conn, name, () => ctx.ok('welcome', { user: name, text: `Welcome, ${name}!`, server: state.instance, inactivity: state.config.timeoutMs / 1000, ...budget }));
  };
}

/**
 * Adds `name`'s account from the shared store, if it has one now; if not, the name of an account
 * registered elsewhere that looks like it, so that a registration of `name` is refused (SEC-3).
 */
async function learnAccount(state: ServerState, name: string): Promise<void> {
  const secret = await state.store.account(name);
  if (secret === undefined) {
    const like = await state.store.similarAccount(name);
    if (like !== undefined) state.indexName(like);
    return;
  }
  if (state.accounts.has(name)) return;
  state.accounts.set(name, secret);
  state.indexName(name);
}

/** SEC-4: what was kept for an earlier holder of `name` goes. Tried again while the store is unreachable: the account is already saved. */
async function forgetEarlierHolder(state: ServerState, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await state.store.forgetUser(name);
    } catch (err) {
      if (!isRetryable(err) || attempt >= 20) throw err;
      await Bun.sleep(Math.min(1000, 50 * 2 ** attempt));
    }
  }
}

/**
 * Waits until a strike is free for `name`: fewer than MAX_FAILURES wrong passwords counted plus
 * checks running. Refuses (and closes) when the name is or becomes locked meanwhile.
 */
async function reserveStrike(ctx: Context, name: string): Promise<void> {
  const { state } = ctx;
  for (;;) {
    if (ctx.conn.closed) throw new ChatError(ErrorCode.Locked, 'closed');
    refuseIfLocked(ctx, name);
    let strikes = state.strikes.get(name);
    if (!strikes) state.strikes.set(name, (strikes = { checking: 0, waiters: [] }));
    if ((state.failures.get(name) ?? 0) + strikes.checking < MAX_FAILURES) {
      strikes.checking++;
      return;
    }
    await new Promise<void>((resolve) => strikes.waiters.push(resolve));
  }
}

/** A check for `name` is over (its failure, if any, already counted): the guesses waiting look again. */
function releaseStrike(state: ServerState, name: string): void {
  const strikes = state.strikes.get(name);
  if (!strikes) return;
  strikes.checking--;
  const waiters = strikes.waiters.splice(0);
  if (strikes.checking === 0 && waiters.length === 0) state.strikes.delete(name);
  for (const wake of waiters) wake();
}

/** SEC-3: a new name must be from the safe set and must not pass for an existing one. */
function refuseBadName(ctx: Context, name: string): void {
  const problem = usernameProblem(name);
  if (problem) throw new ChatError(ErrorCode.BadUsername, `That username cannot be registered: ${problem}`);
  const other = ctx.state.similarName(name);
  if (other !== undefined) throw tooMuchLike(other);
}

/** SEC-3: the refusal of a new name that would pass for `other`. */
export function tooMuchLike(other: string): ChatError {
  return new ChatError(ErrorCode.NameTaken, `That username is too much like the existing ${JSON.stringify(other)} (by case or look-alike letters); choose another`);
}

/** SEC-2: an address with too many failed logins is banned for a while (ejabberd's mod_fail2ban). */
function refuseIfBanned(ctx: Context): void {
  const left = ctx.state.bans.bannedFor(ctx.conn.key, ctx.state.now());
  if (left <= 0) return;
  ctx.conn.close('banned', errorLine(ctx.tag, ErrorCode.Banned, `Too many failed logins from ${ctx.conn.address}; try again in ${Math.ceil(left / 1000)} s`));
  throw new ChatError(ErrorCode.Banned, 'banned');
}

/** SEC-2: new accounts per address and in total, per window (ejabberd's registration_timeout). */
function refuseIfTooManyRegistrations(ctx: Context): void {
  const { state, conn } = ctx;
  const now = state.now();
  const mine = state.registrations.full(conn.key, now);
  if (!mine && !state.allRegistrations.full('', now)) return;
  const counter = mine ? state.registrations : state.allRegistrations;
  const wait = Math.ceil(counter.waitMs(mine ? conn.key : '', now) / 60_000);
  const hours = state.config.registrationWindowMs / 3600_000;
  const per = hours === 1 ? 'an hour' : `${hours} hours`;
  state.log(`refused a registration from ${conn.address}: ${mine ? `${counter.max} from ${conn.key}` : `${counter.max} in total`} in ${per}`);
  const who = mine ? `from ${conn.address}` : 'on this server';
  throw new ChatError(ErrorCode.RegistrationLimit, `Too many new accounts ${who} (at most ${counter.max} in ${per}); try again in ${wait} min`);
}

function refuseIfOnline(ctx: Context, name: string): void {
  if (ctx.state.delivery.isOnline(name)) {
    if (ctx.conn.loggingIn) ctx.conn.loggingIn.user = undefined;
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
  state.log(`failed login for ${name} from ${ctx.conn.address} (${failures} of ${MAX_FAILURES})`);
  const ban = state.bans.fail(ctx.conn.key, state.now());
  if (ban > 0) {
    state.log(`ban ${ctx.conn.key} for ${ban / 1000} s: ${state.config.maxAuthFailures} failed logins within 10 min`);
    if (failures < MAX_FAILURES) state.failures.set(name, failures);
    else lock(state, name);
    ctx.conn.close('banned', errorLine(ctx.tag, ErrorCode.Banned, `Too many failed logins from ${ctx.conn.address}; try again in ${ban / 1000} s`));
    return;
  }
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

// Who gets a connection and how much they may send: connection caps (in total, per address, and a
// reserve for users who log in), the TLS handshake and login deadlines, address bans, and the
// per-connection command budget. Caps and deadlines start at the TCP accept, before any TLS (SEC-5).

import { ErrorCode } from '../protocol/errors.ts';
import { BURST_SECONDS } from '../protocol/limits.ts';
import { encodeLine, errorLine } from '../protocol/server-lines.ts';
import type { Conn, LoggingIn } from './connection.ts';
import { RateLimiter } from '../util/rate-limiter.ts';
import type { ServerState } from './state.ts';

/** Counts a new connection in; refuses it with one clear line when a cap is reached or its address is banned. */
export function admit(state: ServerState, conn: Conn): boolean {
  const { maxConnections, maxPerAddress, loginTimeoutMs, rateLimit } = state.config;
  const banned = state.bans.bannedFor(conn.key, state.now());
  if (banned > 0) {
    logThrottled(state, `banned ${conn.key}`, `refused a connection from ${conn.address}: banned for ${Math.ceil(banned / 1000)} s more after too many failed logins`);
    conn.refuse('banned', errorLine(undefined, ErrorCode.Banned, `Too many failed logins from ${conn.address}; try again in ${Math.ceil(banned / 1000)} s`));
    return false;
  }
  const fromAddress = state.perAddress.get(conn.key) ?? 0;
  const full = maxConnections > 0 && state.connections >= maxConnections;
  if (full || (maxPerAddress > 0 && fromAddress >= maxPerAddress)) {
    const text = full ? 'The server is full; try again later' : `Too many connections from ${conn.address}; close some and try again`;
    logThrottled(state, full ? 'full' : `cap ${conn.key}`, `refused a connection from ${conn.address}: ${full ? `the server is full (${maxConnections})` : `${maxPerAddress} open from ${conn.key}`}`);
    conn.refuse('too-many-connections', errorLine(undefined, ErrorCode.TooManyConnections, text));
    return false;
  }
  makeRoomForStrangers(state);
  state.connections++;
  state.perAddress.set(conn.key, fromAddress + 1);
  state.strangers.add(conn);
  conn.counted = true;
  // A new connection: not logged in.
  const loggingIn = conn.loggingIn as LoggingIn;
  loggingIn.timer = state.wheel.schedule(loginTimeoutMs, () => {
    if (conn.session || conn.closed) return;
    const seconds = loginTimeoutMs / 1000;
    state.log(`no login within ${seconds} s from ${conn.address}; closing`);
    conn.refuse('login-timeout', encodeLine({ type: 'bye', code: ErrorCode.LoginTimeout, text: `No login within ${seconds} s; closing the connection` }));
  });
  if (loggingIn.handshaking) {
    const { handshakeTimeoutMs } = state.config;
    loggingIn.handshakeTimer = state.wheel.schedule(handshakeTimeoutMs, () => {
      if (!conn.handshaking || conn.closed) return;
      logThrottled(state, `handshake ${conn.key}`, `TLS handshake from ${conn.address} not finished within ${handshakeTimeoutMs / 1000} s; closing`);
      conn.abort('handshake-timeout');
    });
  }
  if (rateLimit > 0) conn.limiter = new RateLimiter(rateLimit, rateLimit * BURST_SECONDS, state.now());
  return true;
}

/** Events that come in floods: one line per kind and address a minute, with a count of the rest. */
function logThrottled(state: ServerState, key: string, text: string): void {
  const line = state.logThrottle.line(key, state.now(), text);
  if (line !== undefined) state.log(line);
}

/** The TLS handshake ended: a failure is logged and the connection closed; success lets output flow. */
export function handshakeDone(state: ServerState, conn: Conn, success: boolean, error: Error | null): void {
  const loggingIn = conn.loggingIn;
  if (loggingIn?.handshakeTimer !== undefined) state.wheel.cancel(loggingIn.handshakeTimer);
  if (loggingIn) loggingIn.handshakeTimer = undefined;
  if (!success) {
    if (!conn.closed) logThrottled(state, `tls-failed ${conn.key}`, `TLS handshake from ${conn.address} failed: ${error?.message ?? 'unknown error'}`);
    conn.abort('tls-failed');
    return;
  }
  if (loggingIn) loggingIn.handshaking = false;
}

/**
 * SEC-2: strangers (connections not logged in) may fill the server only up to its cap minus a
 * reserve kept for users who log in; past that the oldest stranger makes room for the newcomer,
 * so a flood of idle connections never locks out people who have accounts.
 */
function makeRoomForStrangers(state: ServerState): void {
  const { maxConnections, reservedConnections } = state.config;
  if (maxConnections <= 0) return;
  const reserve = Math.min(reservedConnections, Math.floor(maxConnections / 10));
  if (reserve <= 0 || state.strangers.size < maxConnections - reserve) return;
  const [oldest] = state.strangers;
  if (!oldest) return;
  state.strangers.delete(oldest);
  logThrottled(state, 'evicted', `closed the oldest connection not logged in (from ${oldest.address}): ${state.strangers.size + 1} strangers fill the room left for users`);
  oldest.refuse('evicted', encodeLine({ type: 'bye', code: 'evicted', text: 'The server is busy with connections that have not logged in; yours was the oldest. Try again' }));
}

/** The connection logged in: it no longer counts as a stranger. */
export function loggedIn(state: ServerState, conn: Conn): void {
  state.strangers.delete(conn);
  cancelDeadlines(state, conn.loggingIn);
  conn.loggingIn = undefined;
}

/** The login and TLS handshake deadlines are off. */
function cancelDeadlines(state: ServerState, loggingIn: LoggingIn | undefined): void {
  if (!loggingIn) return;
  if (loggingIn.timer !== undefined) state.wheel.cancel(loggingIn.timer);
  if (loggingIn.handshakeTimer !== undefined) state.wheel.cancel(loggingIn.handshakeTimer);
  loggingIn.timer = undefined;
  loggingIn.handshakeTimer = undefined;
}

/** The connection closed: it no longer counts. Idempotent. */
export function release(state: ServerState, conn: Conn): void {
  cancelDeadlines(state, conn.loggingIn);
  state.strangers.delete(conn);
  if (!conn.counted) return;
  conn.counted = false;
  state.connections--;
  const left = (state.perAddress.get(conn.key) ?? 1) - 1;
  if (left > 0) state.perAddress.set(conn.key, left);
  else state.perAddress.delete(conn.key);
}

/**
 * Spends `cost` from the connection's budget. Returns false when the line must not run:
 * it was answered with `rate-limited`, or the connection was closed for flooding.
 */
export function withinBudget(state: ServerState, conn: Conn, tag: string | undefined, cost = 1): boolean {
  if (!conn.limiter) return true;
  const verdict = conn.limiter.take(state.now(), cost);
  if (verdict === 'ok') {
    conn.rateLimitLogged = false;
    return true;
  }
  const who = conn.session ? `${conn.session.name} (${conn.address})` : conn.address;
  if (verdict === 'flood') {
    state.log(`closed ${who} for flooding: a whole burst of commands past the rate limit`);
    conn.close('flood', errorLine(tag, ErrorCode.RateLimited, 'Far too many commands; closing the connection'));
    return false;
  }
  if (!conn.rateLimitLogged) logThrottled(state, `rate ${conn.key}`, `rate limit: refusing commands from ${who}`);
  conn.rateLimitLogged = true;
  const retryAfterMs = conn.limiter.waitMs(state.now());
  conn.send(errorLine(tag, ErrorCode.RateLimited, `Too many commands: at most ${state.config.rateLimit} a second. Try again in ${Math.ceil(retryAfterMs / 100) / 10} s`, { retryAfterMs }));
  return false;
}
